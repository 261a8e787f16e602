"""An app whose handlers count their runs, for the request-key tests: ``apply`` adds one
to a counter per run and answers the count; ``refuse`` raises ``Conflict``; ``hold``
waits on a gate the test opens. Several instances in one test share one ``Runs``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from sanic import Request
from websockets.asyncio.client import ClientConnection

from sanic_wsns import Conflict, Identity, WsNamespaces
from tests.support.servers import new_app
from tests.support.wsclient import recv_json


@dataclass
class Runs:
    """Handler runs, by handler name, over every instance of a test."""

    counts: dict[str, int] = field(default_factory=dict)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, name: str) -> int:
        self.counts[name] = self.counts.get(name, 0) + 1
        return self.counts[name]


def keyed_app(broker: str, runs: Runs, **settings: Any) -> WsNamespaces:
    """One pattern, ``/orders/<room:int>``; the user is ``?user=`` (default ``ann``)."""
    wsns = WsNamespaces(new_app("wsns_keys"), broker=broker, unsubscribe_linger=0.1, **settings)
    orders = wsns.pattern("/orders/<room:int>")

    @orders.authorize
    def user(request: Request, room: int) -> Identity:
        name = request.args.get("user", "ann")
        return Identity(value=name, public={"name": name}, user=name)

    @orders.on("apply")
    def apply(ns: Any, client: Any, data: Any) -> dict[str, Any]:
        return {"run": runs.add("apply"), "data": data}

    @orders.on("refuse")
    def refuse(ns: Any, client: Any) -> None:
        runs.add("refuse")
        raise Conflict("already taken", details={"run": runs.counts["refuse"]})

    @orders.on("hold")
    async def hold(ns: Any, client: Any) -> int:
        run = runs.add("hold")
        runs.holding.set()
        await runs.gate.wait()
        return run

    return wsns


async def keyed(ws: ClientConnection, type: str, key: str | None, id: int,
                data: Any = None) -> dict[str, Any]:
    """Send a request (with ``key`` unless ``None``) and read the next frame: its answer."""
    frame: dict[str, Any] = {"type": type, "data": data, "id": id}
    if key is not None:
        frame["key"] = key
    await ws.send(json.dumps(frame))
    return await recv_json(ws)
