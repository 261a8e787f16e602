"""The app the core tests run: two patterns with sync and async authorize hooks whose
verdict depends on the room number, handlers for each behaviour under test, and HTTP
routes that broadcast from outside any WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from sanic import Request, Sanic
from sanic.response import json

from sanic_wsns import Conflict, Forbidden, Identity, NotFound, Unauthorized, WsNamespaces
from tests.support.servers import new_app

DENIALS = {401: Unauthorized, 403: Forbidden, 404: NotFound}


class Add(msgspec.Struct):
    a: int
    b: int


def verdict(room: int) -> Identity:
    if room in DENIALS:
        raise DENIALS[room](f"room {room} says no")
    if room == 500:
        raise RuntimeError("authorize hook crashed")
    return Identity(value={"user": "ann", "token": "s3cret-token"}, public={"name": "ann"})


def add_handlers(pattern: Any, events: list[tuple[str, Any]], gate: asyncio.Event) -> None:
    @pattern.on("hold")
    async def hold(ns, client) -> str:
        await gate.wait()  # the test opens the gate: a handler as slow as it wants
        events.append(("released", client.id))
        return "released"

    @pattern.on("add")
    async def add(ns, client, data: Add) -> int:
        await ns.broadcast("added", data.a + data.b)
        return data.a + data.b

    @pattern.on("say")
    async def say(ns, client, data: str) -> None:
        await ns.broadcast("said", data, exclude=client)

    @pattern.on("boom")
    def boom(ns, client) -> None:
        raise RuntimeError("handler bug")

    @pattern.on("conflict")
    async def conflict(ns, client, data: Any) -> None:
        raise Conflict("stale version", details={"version": 2})

    @pattern.on("big")
    async def big(ns, client, data: int) -> None:
        await ns.broadcast("big", "x" * data)

    @pattern.on("big-to-me")
    async def big_to_me(ns, client, data: int) -> None:
        await client.send("big", "x" * data)

    @pattern.on("whoami")
    def whoami(ns, client) -> dict[str, Any]:
        return {"id": client.id, "identity": client.identity, "members": ns.members()}

    @pattern.on_connect
    async def connected(ns, client) -> None:
        events.append(("connect", client.id))

    @pattern.on_disconnect
    async def disconnected(ns, client) -> None:
        events.append(("disconnect", (client.id, client.identity, len(ns))))

    @pattern.on_empty
    def emptied(ns) -> None:
        events.append(("empty", ns.path))


def build_app(**settings: Any) -> tuple[Sanic, WsNamespaces, list[tuple[str, Any]]]:
    app = new_app()
    settings.setdefault("unsubscribe_linger", 0)
    wsns = WsNamespaces(app, **settings)
    events: list[tuple[str, Any]] = []

    sync_rooms = wsns.pattern("/ws/sync/<room:int>")
    async_rooms = wsns.pattern("/ws/async/<room:int>")
    open_rooms = wsns.pattern("/ws/open/<name:str>")
    kept = wsns.pattern("/ws/kept/<name:slug>", drop_when_empty=False)
    users = wsns.pattern("/ws/user/<room:int>")
    sessions = wsns.pattern("/ws/session/<room:int>")

    @users.authorize
    def authorize_user(request: Request, room: int) -> str:
        return request.args.get("user", "anyone")  # a plain, hashable identity

    @sessions.authorize
    def authorize_session(request: Request, room: int) -> Identity:
        # A session per tab, one person behind them: the per-identity cap counts the person.
        return Identity(value=request.args.get("session"), public=None, user=request.args.get("user"))

    @sync_rooms.authorize
    def authorize_sync(request: Request, room: int) -> Identity:
        return verdict(room)

    @async_rooms.authorize
    async def authorize_async(request: Request, room: int) -> Identity:
        return verdict(room)

    app.ctx.gate = asyncio.Event()
    for pattern in (sync_rooms, async_rooms, open_rooms, kept, users):
        add_handlers(pattern, events, app.ctx.gate)

    @app.post("/notify/<room:int>")
    async def notify(request: Request, room: int):
        await async_rooms.broadcast({"room": room}, "notified", request.json)
        return json({"ok": True})

    @app.post("/remove/<room:int>")
    async def remove(request: Request, room: int):
        await wsns.remove_namespace(f"/ws/async/{room}", code=4410, reason="room deleted")
        return json({"ok": True})

    return app, wsns, events
