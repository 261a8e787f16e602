"""Presence across instances (memory:// and Redis): who is here, joins and leaves once each,
a dead instance's clients leaving within the ttl of its kill, and the state rebuilt after Redis restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from sanic_wsns.broker.redis_presence import presence_keys
from tests.support.instance_process import InstanceProcess
from tests.support.instances import frame, instances
from tests.support.refreshes import SWEPT_WITHIN, landed_refresh


class Member:
    """A connected client and what it was told about who is here (each told once)."""

    def __init__(self, ws: ClientConnection, client_id: str):
        self.ws, self.id = ws, client_id
        self.view: dict[str, Any] = {}
        self.diffs = 0
        self.states = 0

    async def read(self, timeout: float = 10.0) -> None:
        """Take the next presence frame (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                received = await frame(self.ws, timeout)
                if received["type"] == "presence_state":
                    self.states += 1
                    self.view = dict(received["data"])
                    return
                if received["type"] == "presence_diff":
                    self.diffs += 1
                    for cid, public in received["data"]["joins"].items():
                        assert cid not in self.view, f"{self.id} told twice that {cid} joined"
                        self.view[cid] = public
                    for cid in received["data"]["leaves"]:
                        assert cid in self.view, f"{self.id} told that {cid} left, never joined"
                        del self.view[cid]
                    return

    async def sees(self, names: set[str], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while {p["name"] for p in self.view.values()} != names:
                await self.read(timeout)


@asynccontextmanager
async def member(url: str, name: str) -> AsyncIterator[Member]:
    async with connect(url + ("&" if "?" in url else "?") + f"name={name}", max_queue=None) as ws:
        welcome = await frame(ws)
        joined = Member(ws, welcome["data"]["client_id"])
        await joined.read()  # its presence_state
        yield joined


async def test_a_client_sees_every_client_of_every_instance_itself_included(broker):
    async with instances(broker, presence=True) as (a, b), member(a.ws("1"), "ann") as ann:
        assert ann.view == {ann.id: {"name": "ann"}}
        async with member(b.ws("1"), "bob") as bob:
            assert set(bob.view) == {ann.id, bob.id}
            await ann.sees({"ann", "bob"})
        await ann.sees({"ann"})
        assert ann.states == 1 and ann.diffs == 2


async def test_presence_is_readable_from_an_instance_that_hosts_nothing(broker):
    async with instances(broker, presence=True) as (a, b), member(a.ws("2"), "ann") as ann:
        assert await b.wsns.presence("/maps/2") == {ann.id: {"name": "ann"}}
        assert await a.wsns.presence("/maps/2") == {ann.id: {"name": "ann"}}


async def test_the_pattern_and_the_namespace_answer_who_is_here_too(broker):
    async with instances(broker, presence=True) as (a, b), member(a.ws("9"), "ann") as ann:
        [maps] = b.wsns.patterns
        assert await maps.presence({"map_id": "9"}) == {ann.id: {"name": "ann"}}
        assert await a.wsns.get("/maps/9").presence() == {ann.id: {"name": "ann"}}


async def test_a_crowd_joining_at_once_is_shown_in_a_few_batched_diffs(broker):
    async with instances(broker, presence=True) as (a, b), member(a.ws("3"), "watcher") as watcher:
        async def joining(n: int) -> ClientConnection:
            return await connect(b.ws("3", f"name=c{n}"), max_queue=None)

        sockets = await asyncio.gather(*(joining(n) for n in range(100)))
        try:
            await watcher.sees({"watcher"} | {f"c{n}" for n in range(100)}, timeout=20)
            assert watcher.diffs <= 10  # batched: not one diff per join
            frames_sent = b.totals["messages_out"]
            assert frames_sent < 100 * 10  # a welcome, a state and a few diffs each, not 100²
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))
        await watcher.sees({"watcher"}, timeout=20)


async def test_a_client_moving_to_the_other_instance_leaves_and_joins_again(broker):
    async with instances(broker, presence=True) as (a, b), member(a.ws("4"), "watcher") as watcher:
        async with member(a.ws("4"), "mover") as first:
            await watcher.sees({"watcher", "mover"})
        await watcher.sees({"watcher"})  # a new connection is a new client: it left first
        async with member(b.ws("4"), "mover") as second:
            await watcher.sees({"watcher", "mover"})
            assert set(watcher.view) == {watcher.id, second.id} and first.id != second.id


async def test_a_killed_instance_s_clients_leave_within_the_ttl_announced_once(redis_server):
    """kill -9 of an instance right after its refresh landed (its entries live longest):
    its clients leave everyone's presence within the ttl of the kill (``liveness.py``), and
    each leave reaches each client exactly once (one instance announces it)."""
    ttl = 6.0
    victim = InstanceProcess(redis_server.url, presence_ttl=ttl)
    settings = {"presence": True, "history": True, "presence_ttl": ttl}
    try:
        async with instances(redis_server.url, count=2, **settings) as (a, b), \
                member(a.ws("5"), "on-a") as on_a, member(b.ws("5"), "on-b") as on_b, \
                connect(victim.ws("5", "name=doomed")) as doomed:
            welcome = await frame(doomed)
            for watcher in (on_a, on_b):
                await watcher.sees({"on-a", "on-b", "doomed"})
            expiry, _ = presence_keys(a.wsns.hub.channel("/maps/5"))
            await landed_refresh(redis_server.url, expiry, welcome["data"]["client_id"], timeout=ttl)
            victim.kill()
            killed = time.time()
            for watcher in (on_a, on_b):
                await watcher.sees({"on-a", "on-b"}, timeout=ttl * 3)
            assert time.time() - killed < ttl * SWEPT_WITHIN
    finally:
        victim.kill()


async def test_after_redis_restarts_empty_presence_is_rebuilt_from_the_live_connections(redis_server):
    ttl = 3.0
    async with instances(redis_server.url, presence=True, presence_ttl=ttl) as (a, b), \
            member(a.ws("6"), "ann") as ann, member(b.ws("6"), "bob") as bob:
        await ann.sees({"ann", "bob"})
        redis_server.restart()
        async with asyncio.timeout(ttl * 3):
            while await a.wsns.presence("/maps/6") != {ann.id: {"name": "ann"}, bob.id: {"name": "bob"}}:
                await asyncio.sleep(0.1)
        # Nobody was told anyone left: the mirrors held while Redis was away.
        assert ann.view == {ann.id: {"name": "ann"}, bob.id: {"name": "bob"}}
