"""Core idea 11's hard case, on SQLite and on a real PostgreSQL, with a real Redis: the
relaying instance is killed (``kill -9``, its own process) after publishing a row and before
marking it. The row is taken over when the lease lapses and published again, under the
same key: a page gets it exactly once (no duplicate, offsets consecutive)."""

from __future__ import annotations

import asyncio

from tests.support.instance_process import InstanceProcess, outbox_claimer
from tests.support.instances import instances, raw_client, until
from tests.support.outbox_databases import TIMING, execute, record, relay, rows, transaction
from tests.support.servers import wait_for


async def test_a_row_published_by_an_instance_killed_before_marking_it_is_delivered_once(
        redis_server, outbox_db):
    execute(outbox_db, "INSERT INTO mark_gate VALUES (1)")  # the window between publish and mark
    relaying = await asyncio.to_thread(InstanceProcess, redis_server.url, outbox=outbox_db)
    try:
        async with instances(redis_server.url, count=1, history=True, presence=True) as (survivor,), \
                raw_client(survivor.ws("7")) as page:
            with transaction(outbox_db) as db:  # committed, announced by nobody
                record(db, "/maps/7", "edited", {"n": 1})
            first = await until(page, "edited", timeout=TIMING.grace + 10)  # the process's sweep
            await asyncio.to_thread(relaying.kill)
            [(_id, published_at, claimed_by)] = rows(outbox_db)
            assert published_at is None and claimed_by == outbox_claimer(relaying.port)

            execute(outbox_db, "DELETE FROM mark_gate")
            taking_over, close = relay(survivor.wsns, outbox_db, "survivor")
            taking_over.start()
            try:
                await wait_for(lambda: rows(outbox_db)[0][1] is not None, timeout=TIMING.lease + 10)
                assert rows(outbox_db)[0][2] == "survivor" and taking_over.stats()["taken_over"] == 1
                with transaction(outbox_db) as db:
                    following = record(db, "/maps/7", "edited", {"n": 2})
                await taking_over.announce(following)
                after = await until(page, "edited")
                assert after["data"] == {"n": 2}, "the row taken over was delivered twice"
                assert after["offset"] == first["offset"] + 1
            finally:
                await taking_over.stop()
                await close()
    finally:
        await asyncio.to_thread(relaying.kill)
