"""Helpers for the Redis broker tests: app instances sharing one Redis, and their clients.

Each instance is a real Sanic app on a real socket with its own ``WsNamespaces``; they
meet only through the Redis URL, like two processes behind a load balancer. A test about
what an app sees uses ``client`` (the package's own Python client); a test about the wire
itself (offsets, duplicates, exact bytes) reads raw frames with ``frame`` and ``until``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, empty
from websockets.asyncio.client import ClientConnection, connect

from sanic_wsns import History, Identity, WsNamespaces, remote, testing
from sanic_wsns.broker import Broker
from tests.support.servers import RunningServer, new_app, serve

PATTERN = "/maps/<map_id:str>"
PREFIX = "wsns:"


@dataclass
class Instance:
    wsns: WsNamespaces
    srv: RunningServer

    def ws(self, map_id: str, query: str = "") -> str:
        return self.srv.ws(f"/maps/{map_id}" + (f"?{query}" if query else ""))

    @property
    def broker(self) -> dict[str, Any]:
        return self.wsns.stats()["broker"]

    @property
    def totals(self) -> dict[str, Any]:
        return self.wsns.stats()["totals"]


def build(url: str, *, history: History | bool = False, presence: bool = False,
          broker_class: Callable[[str], Broker] | None = None, **settings: Any) -> WsNamespaces:
    """An app with one pattern (``history`` and ``presence`` as given): ``edit`` broadcasts
    its data as ``edited`` to the map (awaited), ``jot`` does the same without awaiting,
    ``jots`` broadcasts each item of its data so, in one call, and ``POST /maps/<id>/edits``
    does as ``edit`` from plain HTTP (a REST handler). A client's public identity is
    ``{"name": ?name=}``; ``doing`` adds ``"doing": data`` to it (``client.update_presence``).
    With ``broker_class`` (``GatedBroker``, say), the app gets ``broker_class(url)`` as its
    broker."""
    app = new_app("wsns_redis")
    settings.setdefault("unsubscribe_linger", 0.1)
    # Every client here is one user ("anyone" unless ?name=) and the reconnect tests churn
    # on purpose: the per-user connect rate has its own test (test_connect_rate.py).
    settings.setdefault("connect_rate", None)
    wsns = WsNamespaces(app, broker=url if broker_class is None else broker_class(url), **settings)
    maps = wsns.pattern(PATTERN, history=history, presence=presence)

    @maps.authorize
    def named(request: Request, map_id: str) -> Identity:
        name = request.args.get("name", "anyone")
        return Identity(name, {"name": name})

    @maps.on("edit")
    async def edit(ns: Any, client: Any, data: Any) -> None:
        await ns.broadcast("edited", data)

    @maps.on("jot")
    async def jot(ns: Any, client: Any, data: Any) -> None:
        ns.broadcast("edited", data)

    @maps.on("jots")
    async def jots(ns: Any, client: Any, data: list[Any]) -> None:
        for item in data:
            ns.broadcast("edited", item)

    @maps.on("doing")
    async def doing(ns: Any, client: Any, data: Any) -> None:
        """What the client is doing, shown to everyone in presence (presence patterns)."""
        await client.update_presence({**client.public, "doing": data})

    async def rest_edit(request: Request, map_id: str) -> HTTPResponse:
        await maps.broadcast({"map_id": map_id}, "edited", request.json)
        return empty(status=204)

    app.add_route(rest_edit, "/maps/<map_id:str>/edits", methods=["POST"])
    return wsns


@asynccontextmanager
async def instances(url: str, count: int = 2, **settings: Any) -> AsyncIterator[list[Instance]]:
    """``count`` instances on one broker URL (``settings`` as for ``build``), stopped on
    exit; then no broker task is left."""
    already = asyncio.all_tasks()
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            wsns = build(url, **settings)
            started.append(Instance(wsns, await stack.enter_async_context(serve(wsns.app))))
        yield started
    leaked = [t for t in asyncio.all_tasks() - already if t.get_name().startswith("wsns-redis")]
    assert not leaked, f"broker tasks left running: {leaked}"


async def frame(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, type: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame of ``type``, skipping others (a bounded wait overall)."""
    async with asyncio.timeout(timeout):
        while True:
            received = await frame(ws, timeout)
            if received["type"] == type:
                return received


class Peer:
    """A ``sanic_wsns.remote`` client with every frame it got since before its welcome, to
    read in order (every wait bounded). It never reconnects: a connection the server ends
    ends the peer, and a later read fails, as it would on a raw socket."""

    def __init__(self, url: str):
        self.connecting = remote.connect(url, **{**testing.TEST_CLIENT_OPTIONS, "max_attempts": 0})
        self.ns = self.connecting.namespace
        # Enough for the largest burst a test sends (10,000 frames) without a reader.
        self.inbox = self.ns.frames(buffer=20_000)

    async def next(self, timeout: float = 5.0) -> remote.Frame:
        async with asyncio.timeout(timeout):
            return await anext(self.inbox)

    async def until(self, type: str, timeout: float = 5.0) -> remote.Frame:
        """The next frame of ``type``, skipping others (a bounded wait overall)."""
        async with asyncio.timeout(timeout):
            while (received := await anext(self.inbox))["type"] != type:
                pass
            return received

    async def edit(self, data: Any) -> None:
        await self.ns.send("edit", data)


@asynccontextmanager
async def client(url: str) -> AsyncIterator[Peer]:
    """A client of ``url``, open (past its ``welcome``) until the block exits."""
    peer = Peer(url)
    async with peer.connecting:
        yield peer


@asynccontextmanager
async def raw_client(url: str) -> AsyncIterator[ClientConnection]:
    """A raw WebSocket past its ``welcome``, for tests about the wire itself (offsets,
    duplicates, exact bytes): ``client``'s Python client would drop a repeated offset."""
    async with connect(url) as ws:
        assert (await frame(ws))["type"] == "welcome"
        yield ws


async def no_more_frames(ws: ClientConnection) -> bool:
    """Nothing else arrives within a short while (a duplicate would be right behind)."""
    try:
        await asyncio.wait_for(ws.recv(), 0.3)
    except TimeoutError:
        return True
    return False


async def edit(ws: ClientConnection, data: Any) -> None:
    await ws.send(json.dumps({"type": "edit", "data": data}))


def numsub(redis: Any, channel: str, *, sharded: bool = False) -> int:
    """Subscribers Redis itself counts for ``channel``."""
    command = "SHARDNUMSUB" if sharded else "NUMSUB"
    return int(redis.cli("PUBSUB", command, channel).split()[1])


def channels(redis: Any, *, sharded: bool = False) -> set[str]:
    """Channels with at least one subscriber, as Redis reports them."""
    return set(redis.cli("PUBSUB", "SHARDCHANNELS" if sharded else "CHANNELS").split())
