"""Several bubblemap instances on one SQLite file and one broker serve the same maps.

Each test runs once with two apps sharing a ``memory://`` hub in this process and once
with a real ``redis-server`` (when the Redis broker backend is available).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import threading
from contextlib import AsyncExitStack, suppress

import pytest

from demo_app.store import Store, users
from tests.support.demo import close_code, map_client, running_demo, sign_in, wait_closed
from tests.support.servers import wait_for

HAS_REDIS_BROKER = importlib.util.find_spec("sanic_wsns.broker.redis") is not None
BUBBLE = {"x": 1.0, "y": 2.0, "text": "shared", "color": "#22aa66"}
_hubs = itertools.count()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.skipif(
    not HAS_REDIS_BROKER, reason="sanic_wsns.broker.redis is not available yet"))])
def broker_url(request):
    if request.param == "memory":
        return f"memory://bubblemap-{next(_hubs)}"
    return request.getfixturevalue("redis_server").url


@pytest.fixture
async def pair(tmp_path, broker_url):
    """Two instances on one database file and one broker."""
    db = tmp_path / "shared.sqlite"
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_demo(db, broker_url))
        second = await stack.enter_async_context(running_demo(db, broker_url))
        yield first, second


async def test_a_cookie_from_one_instance_works_on_the_other(pair):
    first, second = pair
    ann = await sign_in(first, "ann")
    assert (await ann.on(second).call("GET", "/api/1/session")).data["name"] == "ann"


async def test_ws_writes_on_one_instance_reach_clients_and_storage_of_the_other(pair):
    first, second = pair
    ann = await sign_in(first, "ann")
    bob = (await sign_in(first, "bob")).on(second)
    created = await ann.create_map("Shared")
    async with map_client(ann, created["id"]) as mine, map_client(bob, created["id"]) as theirs:
        bubble = (await mine.request("bubble-create", BUBBLE))["data"]
        assert await theirs.next("bubble-created") == bubble
        updated = (await theirs.request("bubble-update", {"id": bubble["id"], "version": 1, "x": 50}))["data"]
        assert await mine.next("bubble-updated") == updated
    assert await bob.bubbles(created["id"]) == [updated]


async def test_rest_create_on_an_instance_without_clients_reaches_the_other(pair):
    first, second = pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map("Shared")
    async with map_client(ann, created["id"]) as client:
        assert not second.app.ctx.wsns.has(f"/api/1/ws/bubblemap/{created['id']}")
        reply = await ann.on(second).call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
        assert reply.status == 201
        assert await client.next("bubble-created") == reply.data


async def test_deleting_a_map_on_one_instance_closes_clients_on_both_with_4410(pair):
    first, second = pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map("Doomed")
    async with map_client(ann, created["id"]) as here, map_client(ann.on(second), created["id"]) as there:
        assert (await ann.call("DELETE", f"/api/1/maps/{created['id']}")).status == 204
        assert [await wait_closed(here.ws), await wait_closed(there.ws)] == [4410, 4410]
    assert await close_code(second, created["id"], ann.cookie) == 4404


def hold_both_between_read_and_write(*stores: Store, patience: float = 2.0) -> None:
    """Make each store's update wait, after reading the bubble and before writing it, until
    the other has read too (or ``patience`` seconds passed: with the transaction, the other
    cannot read before this one commits). Without the transaction both read version 1."""
    meeting = threading.Barrier(len(stores))

    def wait_for_the_other() -> None:
        with suppress(threading.BrokenBarrierError):
            meeting.wait(patience)

    for store in stores:
        store.policy.between_read_and_write = wait_for_the_other


async def test_concurrent_updates_of_one_version_on_two_instances_let_exactly_one_win(pair):
    first, second = pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as one, map_client(ann.on(second), created["id"]) as two:
        bubble = (await one.request("bubble-create", BUBBLE))["data"]
        change = {"id": bubble["id"], "version": 1}
        hold_both_between_read_and_write(first.app.ctx.store, second.app.ctx.store)
        answers = await asyncio.gather(one.request("bubble-update", {**change, "text": "one"}),
                                       two.request("bubble-update", {**change, "text": "two"}))
    kinds = sorted(a["type"] for a in answers)
    assert kinds == ["error", "reply"]
    winner = next(a["data"] for a in answers if a["type"] == "reply")
    loser = next(a["data"] for a in answers if a["type"] == "error")
    assert loser["code"] == "conflict"
    assert loser["details"] == winner
    assert await ann.bubbles(created["id"]) == [winner]


async def test_signing_out_on_one_instance_closes_the_accounts_sockets_on_both(pair):
    """One ``wsns.disconnect`` through the broker (4001): the signed-out session's sockets
    cannot come back, the account's other session's may, with a fresh token."""
    first, second = pair
    laptop, phone = await sign_in(first, "ann"), (await sign_in(first, "ann")).on(second)
    created = await laptop.create_map()
    async with AsyncExitStack() as stack:
        doomed = [await stack.enter_async_context(map_client(laptop.on(server), created["id"]))
                  for server in pair]
        kept = await stack.enter_async_context(map_client(phone, created["id"]))
        assert (await laptop.on(second).call("DELETE", "/api/1/session")).status == 204
        assert [await wait_closed(client.ws) for client in doomed] == [4001, 4001]
        assert await wait_closed(kept.ws) == 4001
    async with map_client(phone, created["id"]) as back:
        assert (await back.request("bubble-create", BUBBLE))["type"] == "reply"
    for server in pair:
        assert (await laptop.on(server).call("GET", "/api/1/maps")).status == 401
        assert await close_code(server, created["id"], laptop.cookie) == 4401


async def test_instances_opening_a_new_database_together_agree_on_the_secret(tmp_path):
    stores = [Store(tmp_path / "fresh.sqlite") for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        secrets = await asyncio.gather(*(s.write(users.secret) for s in stores))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert len(set(secrets)) == 1


async def test_signing_out_while_redis_is_down_still_signs_out_and_says_why_in_one_line(
        redis_pair, redis_server, caplog):
    """This instance's sockets close at once; the others' end with their grants (the next
    refresh finds the session gone: test_ws_tokens.py)."""
    first, _second, _ = redis_pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as here:
        redis_server.kill()
        await wait_for(lambda: not first.app.ctx.wsns.stats()["broker"]["connected"], timeout=10)
        assert (await ann.call("DELETE", "/api/1/session")).status == 204
        assert await wait_closed(here.ws) == 4001
    warnings = [r.getMessage() for r in caplog.records if r.name == "demo_app.realtime"]
    assert warnings == ["signed out: sockets on other instances end with their grants (no broker)"]
