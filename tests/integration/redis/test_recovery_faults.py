"""Recovery through Redis faults: gaps are filled from history, resync only when it must."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sanic_wsns import BrokerUnavailable, History
from tests.integration.redis.test_recovery import frames, opened, quiet
from tests.support.bare_broker import CHANNEL, bare_broker, numbered
from tests.support.instances import edit, frame, instances
from tests.support.redis_servers import RedisServer
from tests.support.servers import wait_for
from tests.support.tcp_proxy import tcp_proxy


async def broadcast_when_up(instance, path: str, data, timeout: float = 10.0):
    """Broadcast once the instance's broker takes it again (it refuses while reconnecting)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await instance.wsns.broadcast(path, "edited", data)
            except BrokerUnavailable:
                await asyncio.sleep(0.05)


async def test_cut_pubsub_links_are_filled_from_history_without_resync(redis_server):
    """CLIENT KILL TYPE pubsub while the other instance publishes 20 changes: the cut
    instance's clients get all 20, in order, and no resync."""
    async with instances(redis_server.url, history=True) as (a, b), \
            opened(a.ws("1")) as (alice, _), opened(b.ws("1")) as (bob, _):
        await a.wsns.broadcast("/maps/1", "edited", "before")
        assert (await frame(bob))["offset"] == (await frame(alice))["offset"] == 1
        redis_server.cli("CLIENT", "KILL", "TYPE", "pubsub")
        for n in range(20):
            await broadcast_when_up(a, "/maps/1", n)
        for ws in (alice, bob):
            got = await frames(ws, 20, timeout=10)
            assert [f["offset"] for f in got] == list(range(2, 22))
            assert [f["data"] for f in got] == list(range(20))
            await quiet(ws)
        await wait_for(lambda: a.broker["reconnects"] >= 1 and b.broker["reconnects"] >= 1)
        assert a.totals["resyncs"] == b.totals["resyncs"] == {}


async def test_redis_restarted_empty_is_a_new_epoch_and_clients_resync(redis_server):
    async with instances(redis_server.url, history=True) as (a, _), opened(a.ws("2")) as (alice, welcome):
        await edit(alice, 1)
        assert (await frame(alice))["offset"] == 1
        redis_server.restart()  # no persistence: the stream and its epoch are gone
        resync = await frame(alice, timeout=15)
        assert resync["type"] == "resync" and resync["data"]["reason"] == "epoch_changed"
        moved_to = resync["data"]["position"]  # where the new epoch's frames come after
        assert moved_to["offset"] == 0 and moved_to["epoch"] != welcome["position"]["epoch"]
        after = await broadcast_when_up(a, "/maps/2", "after")
        assert after.offset == 1 and after.epoch == moved_to["epoch"]
        assert (await frame(alice))["offset"] == 1


async def test_redis_restarted_with_its_data_fills_the_gap_without_resync():
    """With AOF, a restarted Redis still has the streams: what the other instance published
    while this one's link was down reaches its clients from history."""
    server = RedisServer(None, "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        async with instances(server.url, history=True) as (a, b), opened(a.ws("3")) as (alice, _):
            await b.wsns.broadcast("/maps/3", "edited", "before")
            assert (await frame(alice))["offset"] == 1
            server.restart()
            for n in range(5):
                await broadcast_when_up(b, "/maps/3", n)
            got = await frames(alice, 5, timeout=15)
            assert [f["offset"] for f in got] == [2, 3, 4, 5, 6]
            await quiet(alice)
            assert a.totals["resyncs"] == {}
    finally:
        server.close()


async def test_a_frozen_pubsub_link_is_detected_and_its_gap_filled_without_resync(redis_server):
    async with tcp_proxy(redis_server.port) as proxy, \
            instances(proxy.url() + "?probe_interval=0.5", count=1, history=True) as (a,), \
            instances(redis_server.url, count=1, history=True) as (b,), \
            opened(a.ws("4")) as (alice, _):
        await b.wsns.broadcast("/maps/4", "edited", "before")
        assert (await frame(alice))["offset"] == 1
        proxy.freeze()
        for n in range(3):
            await b.wsns.broadcast("/maps/4", "edited", n)
        got = await frames(alice, 3, timeout=15)
        assert [f["offset"] for f in got] == [2, 3, 4]
        assert a.broker["reconnects"] == 1 and a.totals["resyncs"] == {}


async def test_a_history_broadcast_without_redis_raises_and_reaches_nobody(redis_server):
    async with instances(redis_server.url, history=True) as (a, _), opened(a.ws("5")) as (alice, _):
        redis_server.kill()
        await wait_for(lambda: not a.broker["connected"])
        with pytest.raises(BrokerUnavailable, match="no offset"):
            await a.wsns.broadcast("/maps/5", "edited", "lost")
        await quiet(alice)


@contextmanager
def unhandled_loop_errors() -> Iterator[list[dict[str, Any]]]:
    """What the loop's exception handler is given meanwhile: "Future exception was never
    retrieved" and "Task exception was never retrieved" go there (asyncio logs them)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: seen.append(context))
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)


async def test_an_unawaited_history_broadcast_without_redis_is_counted_and_nothing_else(redis_server):
    """A handler's ``ns.broadcast`` nobody awaits gets no offset: the broker counts the
    failure, nobody gets the frame, and asyncio has no unretrieved exception to log."""
    async with instances(redis_server.url, history=True) as (a, _), opened(a.ws("6")) as (alice, _):
        redis_server.kill()
        await wait_for(lambda: not a.broker["connected"])
        failed = a.broker["publish_failed"]
        with unhandled_loop_errors() as seen:
            await alice.send(json.dumps({"type": "jot", "data": "lost"}))
            await wait_for(lambda: a.broker["publish_failed"] == failed + 1)
            await quiet(alice)
            gc.collect()  # the broadcast's future is garbage by now: that is when asyncio logs
        assert seen == []


async def test_an_unawaited_keyed_strict_broadcast_without_redis_leaves_no_unretrieved_error(redis_server):
    """Keyed without history, the broadcast runs in a task (its key is claimed first); its
    refusal (``strict``, redis away) is raised to an awaiter and logged by nobody else."""
    async with instances(redis_server.url, count=1) as (a,), opened(a.ws("7")) as (alice, _):
        redis_server.kill()
        await wait_for(lambda: not a.broker["connected"])
        with unhandled_loop_errors() as seen:
            sent = a.wsns.broadcast("/maps/7", "edited", "first", key="k-1", strict=True)
            await wait_for(lambda: "ended" in repr(sent))
            assert (await frame(alice))["data"] == "first"  # this instance's clients got it
            sent = None  # dropped unawaited
            gc.collect()
        assert seen == []
        with pytest.raises(BrokerUnavailable, match="no broker"):
            await a.wsns.broadcast("/maps/7", "edited", "second", key="k-2", strict=True)


async def test_history_in_a_cluster_spreads_namespaces_over_every_master(redis_cluster):
    async with instances(redis_cluster.url, history=True) as (a, b):
        paths = [str(n) for n in range(12)]
        await asyncio.gather(*(b.wsns.broadcast(f"/maps/{path}", "edited", "x") for path in paths))
        for path in paths[:4]:
            async with opened(a.ws(path, "since=0&epoch=" + (await b.wsns.position(f"/maps/{path}")).epoch)) \
                    as (ws, welcome):
                assert welcome["recovered"] is True and (await frame(ws))["offset"] == 1
        owners = {redis_cluster.owner_of(redis_cluster.slot(f"wsns:/maps/{p}")).port for p in paths}
        assert len(owners) == 3  # keys and channel of a namespace share its slot


@pytest.fixture(params=["server", "cluster"])
def redis_url(request) -> str:
    """One redis-server, then a Redis Cluster: redis-py caps both clients' pools."""
    return request.getfixturevalue(f"redis_{request.param}").url


async def test_a_storm_of_history_reads_waits_for_connections_rather_than_failing(redis_url):
    """An instance that restarts gets its clients back at once, each reading what it
    missed. More reads in flight than redis-py's pool holds connections (100 by default,
    per node in a cluster) must wait for a connection, not fail: a failed read is a
    resync for its client."""
    async with bare_broker(redis_url) as broker:
        await numbered(broker)
        reads = [broker.read_history(CHANNEL, 0, History()) for _ in range(300)]
        results = await asyncio.wait_for(asyncio.gather(*reads), 20)
    assert {(top.offset, len(entries)) for top, entries in results} == {(1, 1)}
