"""python-socketio ``AsyncServer`` on uvicorn (``--ws websockets``): a Socket.IO room per
resource, ``echo-all`` emitted to the room, ``AsyncRedisManager`` when ``--broker`` is given.

A client names its room in the namespace ``CONNECT`` packet's auth payload
(``40{"room": "r"}``); the server enters the room before acknowledging, so the ack means
"joined", like sanic-wsns's ``welcome``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
import uvicorn

from bench.targets.common import BACKLOG, parse_args, task_count

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class CountingRedisManager(socketio.AsyncRedisManager):
    """Counts what this instance hears from Redis, and how much is for rooms it lacks."""

    received = 0
    foreign = 0

    async def _listen(self) -> AsyncIterator[Any]:  # type: ignore[override]
        async for message in super()._listen():
            self.received += 1
            room = json.loads(message).get("room")
            if room not in self.rooms.get("/", {}):
                self.foreign += 1
            yield message


def build(broker: str, count_broker: bool) -> Any:
    manager: socketio.AsyncManager | None = None
    if broker:
        manager_class = CountingRedisManager if count_broker else socketio.AsyncRedisManager
        manager = manager_class(broker)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager,
                               logger=False, engineio_logger=False)
    joined: dict[str, str] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        room = auth.get("room") if isinstance(auth, dict) else None
        if not room:
            return False
        joined[sid] = room
        await sio.enter_room(sid, room)
        return True

    @sio.event
    async def disconnect(sid: str, *_reason: Any) -> None:
        joined.pop(sid, None)

    @sio.on("echo-all")
    async def echo_all(sid: str, data: Any) -> None:
        await sio.emit("echo-all", data, room=joined[sid])

    async def state_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/_bench/state":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        rooms = sio.manager.rooms.get("/", {})
        sids = rooms.get(None, {})
        body = json.dumps({
            "namespaces": sum(1 for r in rooms if r is not None and r not in sids),
            "clients": len(sids),
            "tasks": task_count(),
            "broker_received": getattr(sio.manager, "received", 0),
            "broker_foreign": getattr(sio.manager, "foreign", 0),
        }).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return socketio.ASGIApp(sio, other_asgi_app=state_app)


def main() -> None:
    args = parse_args(__doc__ or "")
    uvicorn.run(build(args.broker, args.count_broker), host=args.host, port=args.port,
                ws="websockets", access_log=False, log_level="warning", lifespan="off",
                backlog=BACKLOG)


if __name__ == "__main__":
    main()
