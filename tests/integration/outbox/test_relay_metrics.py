"""The outbox relay's counts in the ``wsns_outbox_*`` metrics, read from ``/metrics`` of a
real server whose relay ``run_relay`` runs (sweeps every 0.1 s, ``TIMING``) on a real
SQLite file: rows published and swept, rows pending, claims taken over, failures."""

from __future__ import annotations

import asyncio
import itertools
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sanic_wsns.outbox import Relay
from sanic_wsns.outbox.listeners import run_relay
from tests.support.instances import build
from tests.support.outbox_databases import TIMING, backdate, create_table, execute, record, relay, transaction
from tests.support.redis_servers import RedisServer
from tests.support.servers import RunningServer, serve

_hubs = itertools.count()
#: Every wait below; the relay sweeps every 0.1 s and the metrics sync on each scrape.
WAIT = 10.0


@dataclass
class Relayed:
    srv: RunningServer
    relay: Relay
    db: str

    def scrape(self) -> dict[str, float]:
        """``/metrics``, as ``{sample: value}`` for the ``wsns_outbox_*`` lines."""
        with urllib.request.urlopen(f"{self.srv.http}/metrics", timeout=10) as response:
            text = response.read().decode()
        return {name: float(value) for name, _, value in
                (line.rpartition(" ") for line in text.splitlines() if line.startswith("wsns_outbox_"))}

    async def until(self, expected: dict[str, float], *, at_least: bool = False) -> dict[str, float]:
        """Scrape until every sample in ``expected`` has its value (or more, ``at_least``),
        within ``WAIT``."""
        deadline = time.monotonic() + WAIT
        while True:
            seen = await asyncio.to_thread(self.scrape)
            if all(name in seen and (seen[name] >= value if at_least else seen[name] == value)
                   for name, value in expected.items()):
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"metrics never showed {expected}; last scrape: {seen}")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def relayed(tmp_path: Path, broker: str | None = None) -> AsyncIterator[Relayed]:
    """An instance with ``/metrics`` whose outbox relay runs with the server."""
    db = f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    create_table(db, gate=True)
    wsns = build(broker or f"memory://outbox-metrics-{next(_hubs)}", metrics_url="/metrics")
    made, close = relay(wsns, db, "here")
    run_relay(wsns.app, made)
    try:
        async with serve(wsns.app) as srv:
            yield Relayed(srv, made, db)
    finally:
        await close()


def add_rows(db: str, count: int) -> None:
    with transaction(db) as conn:
        for n in range(count):
            record(conn, "/maps/1", "edited", {"n": n})


async def test_published_rows_are_counted_and_nothing_is_pending(tmp_path):
    async with relayed(tmp_path) as it:
        assert (await it.until({"wsns_outbox_published_total": 0}))["wsns_outbox_pending"] == 0
        with transaction(it.db) as conn:
            frame = record(conn, "/maps/1", "edited", {"n": 1})
        await it.relay.announce(frame)
        seen = await it.until({"wsns_outbox_published_total": 1})
        assert seen["wsns_outbox_swept_total"] == 0 and seen["wsns_outbox_pending"] == 0


async def test_rows_the_database_will_not_mark_are_pending_and_counted_as_errors_then_swept(tmp_path):
    async with relayed(tmp_path) as it:
        execute(it.db, "INSERT INTO mark_gate VALUES (1)")  # marking fails: rows stay unpublished
        add_rows(it.db, 2)
        backdate(it.db, TIMING.grace)
        await it.until({"wsns_outbox_pending": 2})
        await it.until({'wsns_outbox_errors_total{stage="database"}': 1}, at_least=True)
        execute(it.db, "DELETE FROM mark_gate")
        execute(it.db, "UPDATE outbox SET claimed_until = ?", (time.time() - 1,))  # no lease to wait out
        await it.until({"wsns_outbox_published_total": 2, "wsns_outbox_swept_total": 2})
        await it.until({"wsns_outbox_pending": 0})


async def test_rows_of_a_claimer_whose_lease_lapsed_are_taken_over_and_counted(tmp_path):
    async with relayed(tmp_path) as it:
        with transaction(it.db) as conn:  # at once: the relay must not claim it first
            record(conn, "/maps/1", "edited", {"n": 1})
            conn.execute("UPDATE outbox SET claimed_by = 'gone', claimed_until = ?, created = created - ?",
                         (time.time() - 1, TIMING.grace))
        await it.until({"wsns_outbox_takeovers_total": 1, "wsns_outbox_published_total": 1})


async def test_a_publication_the_broker_did_not_write_is_counted_as_a_publish_error(tmp_path):
    redis = RedisServer().start()
    try:
        async with relayed(tmp_path, redis.url) as it:
            redis.kill()  # the broker is gone: the announced frame cannot be written
            with transaction(it.db) as conn:
                frame = record(conn, "/maps/1", "edited", {"n": 1})
            await it.relay.announce(frame)
            # The announcement, then every sweep's attempt.
            seen = await it.until({'wsns_outbox_errors_total{stage="publish"}': 1}, at_least=True)
            assert seen["wsns_outbox_published_total"] == 0
    finally:
        redis.close()
