"""Writes are bounded per account, whatever the number of connections and instances, and the
outbox table is pruned as fast as it fills (issue 21 item 4: one user made 980 updates a
second and 30k outbox rows in 30 s)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from demo_app import budgets
from demo_app.limits import Limits
from demo_app.throttle import Rate, TooManyRequests
from sanic_wsns.outbox import Timing
from tests.support.demo import MapClient, map_client, running_demo, sign_in
from tests.support.servers import wait_for

#: The demo's relay runs with the library's default timing.
OUT = Timing()
BUBBLE = {"x": 1.0, "y": 2.0, "text": "spam", "color": "#00aa00"}
EDITS = Rate(per_second=2, burst=5)
CONNECTIONS_PER_INSTANCE = 3
WRITES_PER_CONNECTION = 10


def outbox_count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT count(*) FROM outbox WHERE path LIKE '/api/1/ws/bubblemap/%'"
                                  ).fetchone()[0]


async def writes(client: MapClient) -> list[dict[str, Any]]:
    """``WRITES_PER_CONNECTION`` creations in a row on one connection; their answers."""
    return [await client.request("bubble-create", BUBBLE) for _ in range(WRITES_PER_CONNECTION)]


async def test_one_user_on_many_connections_of_two_instances_gets_only_the_account_edit_rate(tmp_path):
    db = tmp_path / "shared.sqlite"
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(running_demo(db, limits=Limits(edits=EDITS)))
                   for _ in range(2)]
        ann, bob = await sign_in(servers[0], "ann"), await sign_in(servers[0], "bob")
        map_id = (await ann.create_map())["id"]
        clients = [await stack.enter_async_context(map_client(ann.on(server), map_id))
                   for server in servers for _ in range(CONNECTIONS_PER_INSTANCE)]
        started = time.monotonic()
        answers = [answer for sent in await asyncio.gather(*map(writes, clients)) for answer in sent]
        elapsed = time.monotonic() - started
        accepted = [a for a in answers if a["type"] == "reply"]
        refused = [a["data"] for a in answers if a["type"] == "error"]
        # The documented bound: the burst, then the rate (plus one token of rounding).
        assert 1 <= len(accepted) <= EDITS.burst + EDITS.per_second * elapsed + 1
        assert {r["code"] for r in refused} == {"rate_limited"}
        assert all(r["details"]["retry_after"] > 0 for r in refused)
        rest = await ann.on(servers[1]).call("POST", f"/api/1/maps/{map_id}/bubbles", BUBBLE)
        assert rest.status == 429 and int(rest.headers["Retry-After"]) >= 1
        # Nothing refused was written, and another user is served meanwhile.
        assert outbox_count(db) == len(accepted)
        assert (await bob.call("POST", f"/api/1/maps/{map_id}/bubbles", BUBBLE)).status == 201


async def test_published_outbox_rows_are_pruned_within_a_few_ticks_however_many(tmp_path):
    db = tmp_path / "db.sqlite"
    async with running_demo(db):
        published_long_ago = time.time() - OUT.keep - 1
        with sqlite3.connect(db) as connection:
            connection.executemany(
                "INSERT INTO outbox (path, type, data, created, published_at) VALUES (?, 't', '1', ?, ?)",
                [("/api/1/ws/bubblemap/1", published_long_ago, published_long_ago)] * (16 * OUT.prune_batch))
        await wait_for(lambda: outbox_count(db) == 0, timeout=5)


# -- the bucket's SQL, with the clock passed in ----------------------------------------------

@pytest.fixture
def budget_db(tmp_path):
    connection = sqlite3.connect(tmp_path / "budgets.sqlite", isolation_level=None)
    connection.executescript(budgets.SCHEMA)
    yield connection
    connection.close()


def test_a_budget_allows_its_burst_then_its_rate_and_says_when_to_retry(budget_db):
    for _ in range(EDITS.burst):
        budgets.spend(budget_db, "ann", EDITS, 100.0)
    with pytest.raises(TooManyRequests) as refused:
        budgets.spend(budget_db, "ann", EDITS, 100.0)
    assert refused.value.retry_after == pytest.approx(1 / EDITS.per_second)
    budgets.spend(budget_db, "bob", EDITS, 100.0)  # another account has its own
    budgets.spend(budget_db, "ann", EDITS, 100.0 + 1 / EDITS.per_second)
    with pytest.raises(TooManyRequests):
        budgets.spend(budget_db, "ann", EDITS, 100.0 + 1 / EDITS.per_second)


def test_a_clock_that_went_back_refills_nothing(budget_db):
    for _ in range(EDITS.burst):
        budgets.spend(budget_db, "ann", EDITS, 100.0)
    with pytest.raises(TooManyRequests):
        budgets.spend(budget_db, "ann", EDITS, 50.0)
