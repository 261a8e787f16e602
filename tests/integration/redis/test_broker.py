"""The Redis broker across two instances: lifecycle, delivery, order, removal.

Every test runs real Sanic apps on real sockets against a real ``redis-server``, and
checks Redis's own view (``PUBSUB NUMSUB``/``CHANNELS``) next to each instance's stats.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sanic_wsns.broker.redis import RedisBroker
from sanic_wsns.broker.redis_outbox import OUTBOX_LIMIT
from tests.support.instances import PREFIX, channels, client, frame, instances, numsub
from tests.support.servers import wait_for
from tests.support.tcp_proxy import tcp_proxy

CHANNEL = PREFIX + "/maps/123"
#: The one channel every instance holds besides its namespaces' (disconnect by user).
CONTROL = PREFIX + "control"


async def test_seed_scenario_b_leaves_and_comes_back_through_any_instance(redis_server):
    async with instances(redis_server.url) as (a, b):
        async with client(a.ws("123")) as alice:
            # Step 1: A on instance A, B on instance B: both host map 123, Redis counts both.
            assert a.totals["namespaces"] == 1 and a.totals["subscriptions"] == 1
            assert numsub(redis_server, CHANNEL) == 1
            async with client(b.ws("123")) as bob:
                assert b.totals["namespaces"] == 1 and b.totals["subscriptions"] == 1
                assert numsub(redis_server, CHANNEL) == 2
                assert channels(redis_server) == {CHANNEL, CONTROL}

                # Step 2: A's edit reaches B through Redis (and A once, locally).
                await alice.edit({"bubble": 1})
                assert (await bob.until("edited"))["data"] == {"bubble": 1}
                assert (await alice.until("edited"))["data"] == {"bubble": 1}

            # Step 3: B closed its tab: instance B drops the namespace and its subscription.
            await wait_for(lambda: b.totals["namespaces"] == 0 and b.totals["subscriptions"] == 0)
            await wait_for(lambda: numsub(redis_server, CHANNEL) == 1)
            assert b.totals["namespaces_dropped"] == 1

            # Step 4: A keeps editing; nothing fails anywhere.
            for n in range(3):
                await alice.edit({"bubble": 10 + n})
                assert (await alice.until("edited"))["data"] == {"bubble": 10 + n}
            assert a.broker["publish_failed"] == b.broker["publish_failed"] == 0
            assert a.totals["namespaces"] == 1
            # A client's echo comes from A's local delivery, before A's outbox reaches Redis:
            # wait until Redis has all four edits, or step 5's new subscription on B could
            # still receive edit 11 and take it for edit 20.
            await wait_for(lambda: a.broker["published"] == 4 and a.broker["outbox"] == 0)

            # Step 5: B reopens through B, then through A: both receive A's edits again.
            async with client(b.ws("123")) as bob_on_b, client(a.ws("123")) as bob_on_a:
                assert numsub(redis_server, CHANNEL) == 2
                assert b.totals["namespaces_created"] == 2
                await alice.edit({"bubble": 20})
                assert (await bob_on_b.until("edited"))["data"] == {"bubble": 20}
                assert (await bob_on_a.until("edited"))["data"] == {"bubble": 20}
        await wait_for(lambda: numsub(redis_server, CHANNEL) == 0)
        assert a.broker["publish_failed"] == b.broker["publish_failed"] == 0


async def test_drop_recreate_resubscribe_works_every_time(redis_server):
    """encode/broadcaster#121: a listener that does not survive unsubscribe-then-resubscribe."""
    async with instances(redis_server.url) as (a, b), client(a.ws("7")) as alice:
        for cycle in range(6):
            async with client(b.ws("7")) as bob:
                assert numsub(redis_server, PREFIX + "/maps/7") == 2
                await alice.edit(cycle)
                assert (await bob.until("edited"))["data"] == cycle
            if cycle % 2:  # odd cycles come back within the linger, even ones after it
                await wait_for(lambda: numsub(redis_server, PREFIX + "/maps/7") == 1)
        assert b.broker["reconnects"] == 0


async def test_rest_broadcast_from_an_instance_without_the_namespace_reaches_others(redis_server):
    async with instances(redis_server.url) as (a, b), client(b.ws("55")) as bob:
        request = urllib.request.Request(f"{a.srv.http}/maps/55/edits", data=b'{"via":"rest"}',
                                         headers={"Content-Type": "application/json"})
        status = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=5).status)
        assert status == 204
        assert (await bob.until("edited"))["data"] == {"via": "rest"}
        # A published without hosting: no namespace, no subscription taken on demand.
        assert a.totals["namespaces"] == 0 and a.totals["subscriptions"] == 0
        assert numsub(redis_server, PREFIX + "/maps/55") == 1


async def test_remote_clients_get_the_same_bytes_and_the_publisher_no_echo(redis_server):
    # Exact bytes: a test of the wire, so raw sockets.
    async with instances(redis_server.url) as (a, b), \
            _welcomed(a.ws("3")) as (alice, _), _welcomed(b.ws("3")) as (bob, _):
        await a.wsns.broadcast("/maps/3", "edited", {"text": "é ✓", "n": 1.5})
        local, remote = await asyncio.wait_for(alice.recv(), 5), await asyncio.wait_for(bob.recv(), 5)
        assert local == remote
        await a.wsns.broadcast("/maps/3", "edited", "second")
        # Had A delivered its own publication again on the way back, this would be the copy.
        assert json.loads(await asyncio.wait_for(alice.recv(), 5))["data"] == "second"
        assert (await frame(bob))["data"] == "second"


async def test_ten_thousand_messages_keep_per_publisher_order_without_duplicates(redis_server):
    total = 10_000
    async with instances(redis_server.url, max_send_queue=16 * 1024 * 1024) as (a, b), \
            client(a.ws("9")) as on_a, client(b.ws("9")) as on_b:
        for start in range(0, total, 1_000):
            for n in range(start, start + 1_000):
                publisher = a if n % 2 else b
                publisher.wsns.publish("/maps/9", "n", [publisher.wsns.instance_id, n])
            await asyncio.sleep(0)  # let the writers and sockets run between bursts

        for ws in (on_a, on_b):
            seen: dict[str, list[int]] = {a.wsns.instance_id: [], b.wsns.instance_id: []}
            for _ in range(total):
                origin, n = (await ws.next())["data"]
                seen[origin].append(n)
            assert seen[a.wsns.instance_id] == list(range(1, total, 2))
            assert seen[b.wsns.instance_id] == list(range(0, total, 2))
        assert a.broker["published"] == b.broker["published"] == total // 2
        assert a.broker["publish_failed"] == b.broker["publish_failed"] == 0


async def test_remove_namespace_closes_its_clients_on_every_instance(redis_server):
    async with instances(redis_server.url) as (a, b), \
            client(a.ws("8")) as alice, client(b.ws("8")) as bob:
        await b.wsns.remove_namespace("/maps/8", code=4410, reason="map deleted")
        for peer in (alice, bob):
            ending = await asyncio.wait_for(peer.ns.wait_closed(), 5)
            assert (ending.code, ending.message) == (4410, "map deleted")
        await wait_for(lambda: a.totals["namespaces"] == b.totals["namespaces"] == 0)
        await wait_for(lambda: numsub(redis_server, PREFIX + "/maps/8") == 0)


async def test_channel_names_keep_odd_ids_apart_under_the_configured_prefix(redis_server):
    # What a browser sends: encodeURIComponent(id). The REST side names the same ids decoded.
    ids = ["a:b", "a%2Fb", "a%b", "a b", "é"]
    async with instances(redis_server.url, channel_prefix="tenant-1:") as (a, b), AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(client(b.ws(urllib.parse.quote(i, safe=""))))
                   for i in ids]
        expected = {"tenant-1:/maps/" + urllib.parse.quote(i, safe="") for i in ids} | {"tenant-1:control"}
        assert channels(redis_server) == expected
        for map_id in ids:
            await a.wsns.patterns[0].broadcast({"map_id": map_id}, "edited", map_id)
        for ws, map_id in zip(sockets, ids, strict=True):
            assert (await ws.until("edited"))["data"] == map_id


async def test_an_id_holding_a_slash_is_refused_rather_than_mangled(redis_server):
    async with instances(redis_server.url, count=1) as (a,), connect(a.ws("a%2Fb")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert channels(redis_server) == {CONTROL}


async def test_unsubscribe_then_subscribe_at_once_ends_subscribed(redis_server):
    received: list[bytes] = []
    broker = RedisBroker(redis_server.url, lambda c, p: received.append(p), lambda cs: None)
    await broker.connect()
    try:
        await broker.subscribe("ch")
        for _ in range(10):
            await asyncio.gather(broker.unsubscribe("ch"), broker.subscribe("ch"))
            assert numsub(redis_server, "ch") == 1
        broker.publish("ch", b"\x00\xffraw")
        await wait_for(lambda: received == [b"\x00\xffraw"])
    finally:
        await broker.disconnect()


async def test_a_full_outbox_counts_the_overflow_and_never_raises(redis_server):
    broker = RedisBroker(redis_server.url, lambda c, p: None, lambda cs: None)
    await broker.connect()
    try:
        for n in range(OUTBOX_LIMIT + 5):  # no await: the writer cannot drain meanwhile
            broker.publish("ch", b"%d" % n)
        assert broker.stats()["publish_failed"] == 5
        await wait_for(lambda: broker.stats()["published"] == OUTBOX_LIMIT)
    finally:
        await broker.disconnect()


def test_stats_show_the_url_without_its_password():
    broker = RedisBroker("redis://user:hunter2@127.0.0.1:1/0", lambda c, p: None, lambda cs: None)
    stats = broker.stats()
    assert stats["url"] == "redis://user:***@127.0.0.1:1/0"
    assert "hunter2" not in json.dumps(stats)
    assert (stats["backend"], stats["mode"], stats["connected"]) == ("redis", "pubsub", False)


async def test_a_failing_message_handler_does_not_kill_the_listener(redis_server, caplog):
    received: list[bytes] = []

    def on_message(channel: str, payload: bytes) -> None:
        received.append(payload)
        if payload == b"bad":
            raise RuntimeError("handler bug")

    broker = RedisBroker(redis_server.url, on_message, lambda cs: None)
    await broker.connect()
    try:
        await broker.subscribe("ch")
        broker.publish("ch", b"bad")
        broker.publish("ch", b"good")
        await wait_for(lambda: received == [b"bad", b"good"])
        assert broker.stats()["connected"] and broker.stats()["reconnects"] == 0
        assert any("handler failed" in r.getMessage() for r in caplog.records)
    finally:
        await broker.disconnect()


async def test_subscribe_returns_only_once_redis_confirmed_it_even_over_a_slow_path(redis_server):
    """Over a path that holds every byte to Redis for 0.2 s, a subscribe that returned
    before Redis confirmed it would lose a publication made right after it returns."""
    received: list[tuple[str, bytes]] = []
    direct = Redis(port=redis_server.port)
    async with tcp_proxy(redis_server.port, upstream_delay=0.2) as slow:
        broker = RedisBroker(slow.url(), lambda c, p: received.append((c, p)), lambda cs: None)
        await broker.connect()
        try:
            for n in range(5):
                await broker.subscribe(f"ch{n}")
                # PUBLISH answers how many subscribers got it: no wait, no poll.
                assert await direct.publish(f"ch{n}", b"at once") == 1
            await wait_for(lambda: len(received) == 5)
            assert received == [(f"ch{n}", b"at once") for n in range(5)]
        finally:
            await broker.disconnect()
            await direct.aclose()


async def test_a_broadcast_excluding_a_client_skips_it_on_every_instance(redis_server):
    async with instances(redis_server.url) as (a, b), AsyncExitStack() as stack:
        peers = {name: await stack.enter_async_context(client(instance.ws("4")))
                 for name, instance in (("ann", a), ("bob", b), ("cid", b), ("dee", a))}
        skipped = [peers["bob"].ns.client_id, peers["dee"].ns.client_id]  # one remote, one local to A
        await a.wsns.broadcast("/maps/4", "edited", "not for bob or dee", exclude=skipped)
        await a.wsns.broadcast("/maps/4", "edited", "for everyone")
        for name in ("ann", "cid"):
            assert (await peers[name].next())["data"] == "not for bob or dee"
        for name in ("ann", "bob", "cid", "dee"):
            # The next frame bob and dee see is the second broadcast: the first skipped them.
            assert (await peers[name].next())["data"] == "for everyone"


@asynccontextmanager
async def _welcomed(url: str) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    async with connect(url) as ws:
        welcome = await frame(ws)
        assert welcome["type"] == "welcome"
        yield ws, welcome["data"]
