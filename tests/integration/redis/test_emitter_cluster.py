"""The emitter on a real Redis Cluster (three masters): what a worker emits reaches a
client of a Sanic instance on the same cluster, in a namespace on each master, with and
without history, from async and from sync code; a keyed broadcast emitted twice is
delivered once and takes one offset, and the instance honours the same key.

"Once" is a promise about the wire: raw sockets here (the Python client would drop a
repeated offset itself and hide a duplicate)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from sanic_wsns import History
from sanic_wsns.emitter import Emitter, SyncEmitter
from sanic_wsns.recovery import Position
from tests.support.instances import PATTERN, PREFIX, frame, instances, no_more_frames, until
from tests.support.redis_servers import RedisCluster

FLAVOURS = ["async", "sync"]
HISTORIES = [pytest.param(None, id="pubsub"), pytest.param(History(size=50), id="history")]
#: (path, type, data, key) of one emitted broadcast.
Send = tuple[str, str, Any, str | None]
_maps = itertools.count(1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    """One cluster for the module (no replicas: nothing here fails over); every test uses
    namespaces of its own."""
    started = RedisCluster(masters=3, replicas=0).start()
    try:
        yield started
    finally:
        started.close()


def one_per_master(cluster: RedisCluster) -> list[str]:
    """Fresh map ids whose channels live on three different masters."""
    chosen: dict[int, str] = {}
    while len(chosen) < 3:
        map_id = str(next(_maps))
        chosen.setdefault(cluster.node_for(f"{PREFIX}/maps/{map_id}").port, map_id)
    return list(chosen.values())


async def emit(flavour: str, url: str, history: History | None, sends: list[Send]) -> list[Position | None]:
    """Each broadcast through one emitter: ``Emitter`` in this loop, or ``SyncEmitter`` in
    a thread, as a Celery task would run it."""
    patterns = {PATTERN: history}
    if flavour == "async":
        async with Emitter(url, patterns=patterns) as emitter:
            return [await emitter.broadcast(path, type, data, key=key) for path, type, data, key in sends]

    def task() -> list[Position | None]:
        with SyncEmitter(url, patterns=patterns) as emitter:
            return [emitter.broadcast(path, type, data, key=key) for path, type, data, key in sends]

    return await asyncio.to_thread(task)


async def watch(stack: AsyncExitStack, url: str) -> ClientConnection:
    ws = await stack.enter_async_context(connect(url))
    assert (await frame(ws))["type"] == "welcome"
    return ws


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_emitted_frames_reach_a_client_of_an_instance_in_a_namespace_on_each_master(
        cluster, flavour, history):
    ids = one_per_master(cluster)
    async with instances(cluster.url, count=1, history=history or False) as (a,), AsyncExitStack() as stack:
        watchers = [await watch(stack, a.ws(map_id)) for map_id in ids]
        positions = await emit(flavour, cluster.url, history,
                               [(f"/maps/{map_id}", "edited", {"map": map_id}, None) for map_id in ids])
        for map_id, ws, position in zip(ids, watchers, positions, strict=True):
            received = await until(ws, "edited")
            assert received["data"] == {"map": map_id}
            if history is None:
                assert position is None and "offset" not in received
            else:
                assert position is not None and received["offset"] == position.offset == 1
            assert await no_more_frames(ws)


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_keyed_broadcast_emitted_twice_is_delivered_once_with_one_offset(cluster, flavour, history):
    ids = one_per_master(cluster)
    async with instances(cluster.url, count=1, history=history or False) as (a,), AsyncExitStack() as stack:
        watchers = [await watch(stack, a.ws(map_id)) for map_id in ids]
        sends: list[Send] = []
        for map_id in ids:
            path = f"/maps/{map_id}"
            sends += [(path, "edited", 1, "row-1"), (path, "edited", 1, "row-1"),
                      (path, "edited", 2, "row-2")]
        positions = await emit(flavour, cluster.url, history, sends)
        for n, (map_id, ws) in enumerate(zip(ids, watchers, strict=True)):
            first, again, other = positions[3 * n:3 * n + 3]
            got = [await until(ws, "edited") for _ in range(2)]
            assert [f["data"] for f in got] == [1, 2]
            # The instance on the cluster remembers the emitter's key too.
            repeat = await a.wsns.broadcast(f"/maps/{map_id}", "edited", 1, key="row-1")
            assert await no_more_frames(ws)
            if history is None:
                assert first is again is other is repeat is None
            else:
                assert first is not None and other is not None
                assert first == again == repeat and [f["offset"] for f in got] == [1, 2] == [
                    first.offset, other.offset]
