"""The raw Sanic floor: a hand-written ``@app.websocket`` handler, a dict of rooms and a
plain ``for ws in room: await ws.send(msg)`` loop — what sanic-wsns costs on top of Sanic.

It is what a competent developer writes in an afternoon, not a strawman: stdlib ``json``
once per message, the same "joined" frame the others send, and for multi-instance runs
one Redis pattern subscription (``raw:*``) that relays a broadcast's text to the other
instances, skipping its own by an instance-id prefix.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import redis.asyncio as aioredis
from sanic import Request, Sanic
from sanic.exceptions import WebsocketClosed
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from websockets.exceptions import ConnectionClosed

from bench.targets.common import quiet_sanic, run_sanic, task_count

INSTANCE = secrets.token_hex(6).encode()  # 12 bytes, prefixed to every relayed message
CHANNEL_PREFIX = "raw:"
WELCOME = json.dumps({"type": "welcome", "data": None})


def build(broker: str, count_broker: bool) -> Sanic:
    app = Sanic("bench_raw")
    app.config.MOTD = False
    quiet_sanic(app)
    rooms: dict[str, set[Any]] = {}
    received = {"all": 0, "foreign": 0}
    relay: dict[str, Any] = {}

    async def send_all(members: set[Any], text: str) -> None:
        for ws in list(members):
            try:  # noqa: SIM105  (plain try: the cheapest form in a per-client loop)
                await ws.send(text)
            except (ConnectionClosed, WebsocketClosed):
                pass  # its own handler removes it

    async def listen(pubsub: Any) -> None:
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            if count_broker:
                received["all"] += 1
            data: bytes = message["data"]
            if data[:12] == INSTANCE:
                continue
            members = rooms.get(message["channel"][len(CHANNEL_PREFIX):].decode())
            if members is None:
                if count_broker:
                    received["foreign"] += 1
                continue
            await send_all(members, data[12:].decode())

    @app.before_server_start
    async def connect_broker(app: Sanic) -> None:
        if broker:
            # A blocking pool: 1,000 rooms publishing at once wait for a connection instead of
            # failing with "Too many connections" (redis-py's default pool raises).
            client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
                broker, max_connections=64))
            pubsub = client.pubsub()
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
            relay.update(client=client, pubsub=pubsub, task=asyncio.create_task(listen(pubsub)))

    @app.after_server_stop
    async def disconnect_broker(app: Sanic) -> None:
        if relay:
            relay["task"].cancel()
            await relay["pubsub"].aclose()
            await relay["client"].aclose()

    @app.websocket("/bench/<room>")
    async def room_ws(request: Request, ws: Any, room: str) -> None:
        members = rooms.setdefault(room, set())
        members.add(ws)
        try:
            await ws.send(WELCOME)
            while True:
                text = await ws.recv()
                if text is None:
                    return
                frame = json.loads(text)
                if frame.get("type") == "echo-all":
                    out = json.dumps({"type": "echo-all", "data": frame.get("data")})
                    await send_all(members, out)
                    if relay:
                        await relay["client"].publish(CHANNEL_PREFIX + room, INSTANCE + out.encode())
        except (ConnectionClosed, WebsocketClosed):
            pass
        finally:
            members.discard(ws)
            if not members and rooms.get(room) is members:
                del rooms[room]

    @app.get("/_bench/state")
    async def state(request: Request) -> HTTPResponse:
        return json_response({
            "namespaces": len(rooms),
            "clients": sum(len(m) for m in rooms.values()),
            "tasks": task_count(),
            "broker_received": received["all"],
            "broker_foreign": received["foreign"],
        })

    return app


def main() -> None:
    run_sanic(build, __doc__ or "")


if __name__ == "__main__":
    main()
