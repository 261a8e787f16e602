"""bubblemap's outbox on real instances: a stored change is announced even when the
instance that stored it never published it, and a frame is marked published only once
the broker wrote it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import msgspec

from demo_app.models import BubbleCreate
from demo_app.store import bubbles, maps
from sanic_wsns.outbox import Timing
from tests.support.demo import as_a_dead_instance, map_client, sign_in
from tests.support.servers import wait_for
from tests.support.wsclient import recv_json

BUBBLE = {"x": 10.0, "y": 20.0, "text": "announced", "color": "#336699"}
#: A sweeper publishes an overdue frame within GRACE plus one tick; bounded generously.
SWEPT_S = Timing().grace + 8.0
#: Concurrent writes whose frames must arrive in the order they were committed.
COMMITS = 20


def outbox_rows(db: Path) -> list[tuple[int, str, float | None]]:
    """(id, type, published_at) of every outbox row for a map's namespace (not the map
    lists' cards), read as another process would."""
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT id, type, published_at FROM outbox "
                                  "WHERE path LIKE '/api/1/ws/bubblemap/%' ORDER BY id").fetchall()


def unpublished(db: Path) -> list[int]:
    return [row[0] for row in outbox_rows(db) if row[2] is None]


async def test_ws_and_rest_writes_are_recorded_and_marked_published_once_written(demo, ann, tmp_path):
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as client:
        bubble = (await client.request("bubble-create", BUBBLE))["data"]
        await client.request("bubble-update", {"id": bubble["id"], "version": 1, "text": "v2"})
        await client.request("bubble-delete", {"id": bubble["id"]})
    assert (await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)).status == 201
    db = tmp_path / "db.sqlite"
    assert [row[1] for row in outbox_rows(db)] == [
        "bubble-created", "bubble-updated", "bubble-deleted", "bubble-created"]
    await wait_for(lambda: not unpublished(db), timeout=5)


async def test_a_change_a_dead_instance_stored_but_never_published_reaches_both_instances(redis_pair):
    first, second, db = redis_pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as here, map_client(ann.on(second), created["id"]) as there:
        new = msgspec.convert(BUBBLE, BubbleCreate)
        bubble, _frame = await as_a_dead_instance(
            db, lambda store: store.write(bubbles.create, store.policy, created["id"], new, "ann"))
        expected = msgspec.to_builtins(bubble)
        assert await here.next("bubble-created") == expected
        assert await there.next("bubble-created") == expected
    await wait_for(lambda: not unpublished(db), timeout=SWEPT_S)


async def test_a_map_deleted_by_an_instance_that_died_before_closing_its_clients_is_announced(redis_pair):
    first, second, db = redis_pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as here, map_client(ann.on(second), created["id"]) as there:
        assert await as_a_dead_instance(db, lambda store: store.write(maps.delete, created["id"])) is not None
        assert await here.next("map-deleted") == {"id": created["id"]}
        assert await there.next("map-deleted") == {"id": created["id"]}


async def test_a_change_made_while_redis_is_down_stays_unpublished_then_is_swept_when_it_is_back(
        redis_pair, redis_server):
    first, second, db = redis_pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as here, map_client(ann.on(second), created["id"]) as there:
        redis_server.kill()
        await wait_for(lambda: not first.app.ctx.wsns.stats()["broker"]["connected"], timeout=10)
        reply = await here.request("bubble-create", BUBBLE)
        assert reply["type"] == "reply"
        await wait_for(lambda: first.app.ctx.outbox.announcing == 0, timeout=10)
        assert len(unpublished(db)) == 1, "marked published although Redis never took it"

        redis_server.start()
        await wait_for(lambda: not unpublished(db), timeout=SWEPT_S + 10)
        # The other instance's client learns of it: the swept frame, or the resync sent
        # when its instance's broker link came back (whichever it gets first).
        while (frame := await recv_json(there.ws, timeout=SWEPT_S))["type"] not in (
                "bubble-created", "resync"):
            pass
        if frame["type"] == "bubble-created":
            assert frame["data"] == reply["data"]


async def test_concurrent_writes_reach_every_instance_in_commit_order(redis_pair):
    first, second, _db = redis_pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as here, map_client(ann.on(second), created["id"]) as there:
        replies = await asyncio.gather(*(ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
                                         for _ in range(COMMITS)))
        committed = sorted(reply.data["id"] for reply in replies)  # ids are given out in commit order
        for client in (here, there):
            assert [(await client.next("bubble-created"))["id"] for _ in committed] == committed
