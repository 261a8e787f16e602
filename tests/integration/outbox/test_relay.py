"""The outbox relay on SQLite and on a real PostgreSQL, publishing through a real instance
to a real client: only committed frames go out, each once; overdue rows are claimed for a
lease, a lapsed claim is taken over, published rows are pruned in bounded batches."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from sanic_wsns import History
from sanic_wsns.outbox import Relay
from tests.support.instances import Instance, instances, no_more_frames, raw_client, until
from tests.support.outbox_databases import TIMING, backdate, execute, record, relay, rows, transaction
from tests.support.servers import wait_for

_hubs = itertools.count()


@asynccontextmanager
async def one_instance() -> AsyncIterator[Instance]:
    """An instance on a memory hub of its own: the broadcast keys remembered by another
    test's hub (the same row ids) would swallow this test's frames."""
    async with instances(f"memory://outbox-{next(_hubs)}", count=1, history=History(size=50)) as (instance,):
        yield instance


@asynccontextmanager
async def relay_of(instance: Instance, url: str, claimer: str = "here") -> AsyncIterator[Relay]:
    made, close = relay(instance.wsns, url, claimer)
    try:
        yield made
    finally:
        await made.stop()
        await close()


async def test_a_frame_recorded_in_a_rolled_back_transaction_is_never_published(outbox_db):
    async with one_instance() as here, raw_client(here.ws("1")) as watcher, relay_of(here, outbox_db) as it:
        with pytest.raises(RuntimeError), transaction(outbox_db) as db:
            record(db, "/maps/1", "edited", {"n": 1})
            raise RuntimeError("the change failed")
        backdate(outbox_db, 60)
        assert await it.sweep() == 0
        assert rows(outbox_db) == [] and it.stats()["pending"] == 0
        assert await no_more_frames(watcher)


async def test_a_committed_and_announced_frame_is_published_once_with_its_row_id_as_key(outbox_db):
    async with one_instance() as here, raw_client(here.ws("1")) as watcher, relay_of(here, outbox_db) as it:
        with transaction(outbox_db) as db:
            recorded = record(db, "/maps/1", "edited", {"n": 1})
        await it.announce(recorded)
        received = await until(watcher, "edited")
        assert received["data"] == {"n": 1}
        await wait_for(lambda: rows(outbox_db)[0][1] is not None, timeout=5)
        backdate(outbox_db, 60)
        assert await it.sweep() == 0, "a row marked published was swept again"
        assert await no_more_frames(watcher)
        assert it.stats()["published"] == 1


async def test_publishing_a_row_again_delivers_nothing_new(outbox_db):
    """The promise that makes a crash between publish and mark harmless: the key."""
    async with one_instance() as here, raw_client(here.ws("1")) as watcher, relay_of(here, outbox_db) as it:
        with transaction(outbox_db) as db:
            recorded = record(db, "/maps/1", "edited", {"n": 1})
        await it.announce(recorded)
        await it.announce(recorded)
        first = await until(watcher, "edited")
        assert await no_more_frames(watcher)
        with transaction(outbox_db) as db:
            following = record(db, "/maps/1", "edited", {"n": 2})
        await it.announce(following)
        assert (await until(watcher, "edited"))["offset"] == first["offset"] + 1


async def test_a_row_whose_id_the_broker_remembers_from_before_a_database_reset_is_published(outbox_db):
    async with one_instance() as here, raw_client(here.ws("1")) as watcher, relay_of(here, outbox_db) as it:
        with transaction(outbox_db) as db:
            before = record(db, "/maps/1", "edited", {"n": 1})
        await it.announce(before)
        assert (await until(watcher, "edited"))["data"] == {"n": 1}
        execute(outbox_db, "DELETE FROM outbox")
        restart_ids(outbox_db)
        with transaction(outbox_db) as db:
            after = record(db, "/maps/1", "edited", {"n": 2})
        assert after.id == before.id
        await it.announce(after)
        assert (await until(watcher, "edited"))["data"] == {"n": 2}


def restart_ids(url: str) -> None:
    if url.startswith("sqlite:"):
        execute(url, "DELETE FROM sqlite_sequence WHERE name = 'outbox'")
    else:
        execute(url, "ALTER TABLE outbox ALTER COLUMN id RESTART")


async def test_a_row_left_unannounced_is_published_by_a_sweep_after_the_grace_only(outbox_db):
    async with one_instance() as here, raw_client(here.ws("1")) as watcher, relay_of(here, outbox_db) as it:
        with transaction(outbox_db) as db:
            recorded = record(db, "/maps/1", "edited", {"n": 1})
        assert await it.sweep() == 0, "a row younger than the grace was swept"
        backdate(outbox_db, TIMING.grace)
        assert await it.sweep() == 1
        assert (await until(watcher, "edited"))["data"] == {"n": 1}
        [(row_id, published_at, claimed_by)] = rows(outbox_db)
        assert (row_id, claimed_by) == (recorded.id, "here") and published_at is not None
        assert it.stats()["swept"] == 1 and it.stats()["taken_over"] == 0


async def test_a_claimed_row_is_left_alone_until_its_lease_lapses_then_taken_over(outbox_db):
    async with one_instance() as here, raw_client(here.ws("1")) as watcher, \
            relay_of(here, outbox_db, "first") as first, relay_of(here, outbox_db, "second") as second:
        with transaction(outbox_db) as db:
            record(db, "/maps/1", "edited", {"n": 1})
        execute(outbox_db, "INSERT INTO mark_gate VALUES (1)")  # the first claimer cannot mark
        backdate(outbox_db, TIMING.grace)
        with pytest.raises(Exception, match="marking is gated"):
            await first.sweep()
        assert (await until(watcher, "edited"))["data"] == {"n": 1}
        assert await second.sweep() == 0 and rows(outbox_db)[0][2] == "first", "claimed twice"
        execute(outbox_db, "DELETE FROM mark_gate")
        execute(outbox_db, "UPDATE outbox SET claimed_until = ?", (time.time() - 1,))  # lapsed
        assert await second.sweep() == 1
        assert rows(outbox_db)[0][2] == "second"
        assert second.stats()["taken_over"] == 1
        assert await no_more_frames(watcher), "the row taken over was delivered twice"


async def test_published_rows_are_pruned_after_keep_in_batches_unpublished_ones_never(outbox_db):
    async with one_instance() as here, relay_of(here, outbox_db) as it:
        it.timing = dataclasses.replace(TIMING, prune_batch=2, prune_batches=2)
        with transaction(outbox_db) as db:
            ids = [record(db, "/maps/1", "edited", n).id for n in range(6)]
        old = time.time() - TIMING.keep - 1
        execute(outbox_db, f"UPDATE outbox SET published_at = ? WHERE id <= {ids[4]}", (old,))
        assert await it.prune() == 4, "more than prune_batches batches in one pass"
        assert await it.prune() == 1
        assert [row[0] for row in rows(outbox_db)] == [ids[5]]

