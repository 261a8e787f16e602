"""``Hub``: who is where, without Sanic. Clients are real ``Client``s over a socket that
records what it was given (``interfaces.ClientSocket``: the one door to Sanic is elsewhere),
the broker is ``memory://``."""

import asyncio
import json
import uuid

import pytest

from sanic_wsns.client import Client
from sanic_wsns.config import load_settings
from sanic_wsns.hub import Hub
from sanic_wsns.limits import TokenBucket
from sanic_wsns.pattern import Pattern


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class Socket:
    """A connection as a ``Client`` sees it, writing into ``Transport``."""

    kind = "websocket"

    def __init__(self) -> None:
        self.transport = Transport()
        self.closed: tuple[int, str] | None = None

    def is_open(self) -> bool:
        return self.closed is None

    def close_code_sent(self) -> int | None:
        return None if self.closed is None else self.closed[0]

    def awaiting_pong(self, payload: bytes) -> bool:
        return False

    def ping(self, payload: bytes) -> None:
        pass

    def abort(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def frames(self) -> list[dict]:
        return [json.loads(payload(frame)) for frame in self.transport.written]


def payload(frame: bytes) -> bytes:
    """An unmasked server frame's payload (RFC 6455 §5.2: 2, 4 or 10 header bytes)."""
    length = frame[1] & 0x7F
    return frame[{126: 4, 127: 10}.get(length, 2):]


@pytest.fixture
async def hub():
    hub = Hub(load_settings({}, {"broker": f"memory://{uuid.uuid4().hex}", "unsubscribe_linger": 0}))
    await hub.start(heartbeat_interval=20.0)
    yield hub
    await hub.stop()


async def enter(hub: Hub, pattern: Pattern, path: str, user: str) -> tuple[Client, Socket]:
    assert hub.claim(user, path) is None
    ns = await hub.host(pattern, path, {"room": int(path.rsplit("/", 1)[1])})
    socket = Socket()
    client = Client(hub.next_client_id(), ns, socket, None, user, {"name": user},
                    TokenBucket(10, 10, asyncio.get_running_loop().time()), 1 << 20, user)
    await hub.join(ns, client)
    return client, socket


async def test_a_client_joins_with_its_welcome_first_and_gets_its_namespace_s_broadcasts(hub):
    rooms = Pattern(lambda: hub, "/rooms/<room:int>")
    ann, ann_socket = await enter(hub, rooms, "/rooms/1", "ann")
    _, bob_socket = await enter(hub, rooms, "/rooms/2", "bob")
    await rooms.broadcast({"room": 1}, "said", "hi")
    welcome, said = ann_socket.frames()
    assert welcome["type"] == "welcome" and welcome["data"]["client_id"] == ann.id
    assert welcome["data"]["heartbeat_interval"] == 20.0
    assert said == {"type": "said", "data": "hi"}
    assert [f["type"] for f in bob_socket.frames()] == ["welcome"]


async def test_the_last_client_leaving_drops_the_namespace_and_gives_its_slot_back(hub):
    rooms = Pattern(lambda: hub, "/rooms/<room:int>")
    ann, _ = await enter(hub, rooms, "/rooms/1", "ann")
    assert hub.registry.get("/rooms/1") is ann.namespace and hub.connections.total == 1
    await hub.leave(ann.namespace, ann)
    assert hub.registry.get("/rooms/1") is None and hub.connections.total == 0
    assert hub.stats()["totals"]["namespaces_dropped"] == 1


async def test_removing_a_namespace_closes_its_clients_with_the_code(hub):
    rooms = Pattern(lambda: hub, "/rooms/<room:int>")
    _, socket = await enter(hub, rooms, "/rooms/1", "ann")
    await hub.remove_namespace("/rooms/1", 4410, "gone")
    assert socket.closed == (4410, "gone") and hub.registry.get("/rooms/1") is None
