"""Helpers for the bubblemap tests: a running demo, signed-in users, HTTP and WS calls.

HTTP goes through ``tests.support.demo_api`` on a worker thread; WebSockets through the
``websockets`` client. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sanic import Sanic
from websockets.asyncio.client import ClientConnection, connect

from demo_app import create_app
from demo_app.store import Store
from tests.support.demo_api import PASSWORD, DemoApi, Response
from tests.support.servers import RunningServer, serve
from tests.support.wsclient import close_of, recv_json

TIMEOUT = 5.0
T = TypeVar("T")


async def http(server: RunningServer, method: str, path: str, data: Any = None,
               cookie: str | None = None, raw: bytes | None = None,
               headers: dict[str, str] | None = None) -> Response:
    """One request, sent as JSON unless ``headers`` say otherwise."""
    return await asyncio.to_thread(DemoApi(server.http, cookie=cookie).call, method, path, data, raw,
                                   headers)


@dataclass
class User:
    """A signed-in user of one running demo: ``DemoApi`` on a worker thread, and the server
    (for its WebSocket URLs)."""

    server: RunningServer
    api: DemoApi

    @property
    def name(self) -> str:
        return self.api.name

    @property
    def cookie(self) -> str:
        assert self.api.cookie is not None
        return self.api.cookie

    async def call(self, method: str, path: str, data: Any = None, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> Response:
        return await asyncio.to_thread(self.api.call, method, path, data, raw, headers)

    async def create_map(self, title: str = "Ideas", private: bool = False) -> dict[str, Any]:
        return await asyncio.to_thread(self.api.create_map, title, private)

    async def bubbles(self, map_id: int) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.api.bubbles, map_id)

    def on(self, server: RunningServer) -> User:
        """The same session cookie used against another instance."""
        return User(server, self.api.on(server.http))

    async def ws_token(self) -> str:
        """A WebSocket token for this session (what the page's ``token`` function gets);
        raises ``TokenRefused`` once the session is over."""
        reply = await self.call("POST", "/api/1/session/ws-token")
        if reply.status != 200:
            raise TokenRefused(reply.status)
        token: str = reply.data["token"]
        return token


class TokenRefused(Exception):
    """The demo would not give a WebSocket token (401: signed out)."""


async def sign_in(server: RunningServer, name: str, password: str = PASSWORD) -> User:
    """Sign in (the first time: register) ``name``; a new session each call."""
    return User(server, await asyncio.to_thread(DemoApi.sign_in, server.http, name, password))


def demo_app(db: Path, broker: str = "memory://", **options: Any) -> Sanic:
    """A demo app; admins (if any) get ``PASSWORD``."""
    Sanic.test_mode = True
    if options.get("admins"):
        options.setdefault("admin_password", PASSWORD)
    return create_app(db_path=db, broker=broker, **options)


@asynccontextmanager
async def running_demo(db: Path, broker: str = "memory://", **options: Any) -> AsyncIterator[RunningServer]:
    async with serve(demo_app(db, broker, **options)) as server:
        yield server


# -- WebSocket ------------------------------------------------------------------------------

def map_url(server: RunningServer, map_id: int) -> str:
    return server.ws(f"/api/1/ws/bubblemap/{map_id}")


async def recv_type(ws: ClientConnection, type: str) -> dict[str, Any]:
    """The next frame of ``type``, skipping others (such as one's own broadcasts)."""
    while True:
        frame = await recv_json(ws)
        if frame["type"] == type:
            return frame


class MapClient:
    """A WebSocket client of one map, past its ``welcome`` and ``snapshot``."""

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any], snapshot: dict[str, Any]):
        self.ws = ws
        self.welcome = welcome
        self.snapshot = snapshot
        self._ids = iter(range(1, 1_000_000))

    async def request(self, type: str, data: Any) -> dict[str, Any]:
        """Send a request and return its answer (a ``reply`` or ``error`` frame); frames
        arriving before it (broadcasts) are skipped."""
        id = next(self._ids)
        await self.ws.send(json.dumps({"type": type, "data": data, "id": id}))
        while True:
            frame = await recv_json(self.ws)
            if frame.get("id") == id:
                return frame

    async def next(self, type: str) -> dict[str, Any]:
        return (await recv_type(self.ws, type))["data"]


@asynccontextmanager
async def map_client(user: User, map_id: int) -> AsyncIterator[MapClient]:
    async with connect(map_url(user.server, map_id), additional_headers={"Cookie": user.cookie},
                       open_timeout=TIMEOUT, close_timeout=1) as ws:
        welcome = await recv_json(ws)
        assert welcome["type"] == "welcome", welcome
        snapshot = await recv_type(ws, "snapshot")  # presence frames may come first
        yield MapClient(ws, welcome["data"], snapshot["data"])


async def close_code(server: RunningServer, map_id: int, cookie: str | None) -> int:
    """Connect to a map and return the close code the server ends the connection with."""
    return await close_code_at(server, f"/api/1/ws/bubblemap/{map_id}", cookie)


async def close_code_at(server: RunningServer, path: str, cookie: str | None) -> int:
    """Connect to the namespace at ``path`` and return the close code the server ends the
    connection with."""
    headers = {"Cookie": cookie} if cookie else {}
    async with connect(server.ws(path), additional_headers=headers,
                       open_timeout=TIMEOUT, close_timeout=1) as ws:
        return await wait_closed(ws)


async def wait_closed(ws: ClientConnection) -> int | None:
    """Read (and drop) frames until the server closes; the close code."""
    return (await close_of(ws))[0]


# -- map lists -----------------------------------------------------------------------------

async def map_lists(user: User) -> list[str]:
    """The list namespaces ``user``'s list page listens to: public, then personal."""
    return (await user.call("GET", "/api/1/session")).data["map_lists"]


@asynccontextmanager
async def list_client(user: User, path: str) -> AsyncIterator[ClientConnection]:
    """A WebSocket client of one map list namespace, past its ``welcome``."""
    async with connect(user.server.ws(path), additional_headers={"Cookie": user.cookie},
                       open_timeout=TIMEOUT, close_timeout=1) as ws:
        welcome = await recv_json(ws)
        assert welcome["type"] == "welcome", welcome
        yield ws


async def next_card(ws: ClientConnection, map_id: int, type: str = "map-card",
                    timeout: float = TIMEOUT) -> dict[str, Any]:
    """The data of the next ``type`` frame about map ``map_id`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_json(ws, timeout)
            if frame["type"] == type and frame["data"]["id"] == map_id:
                return frame["data"]


# -- fixtures shared by the test modules ----------------------------------------------------

@pytest.fixture
async def redis_pair(tmp_path: Path, redis_server: Any,
                     ) -> AsyncIterator[tuple[RunningServer, RunningServer, Path]]:
    """Two instances on one database file and one Redis, and that file: ``(first, second, db)``."""
    db = tmp_path / "shared.sqlite"
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_demo(db, redis_server.url))
        second = await stack.enter_async_context(running_demo(db, redis_server.url))
        yield first, second, db


async def as_a_dead_instance(db: Path, write: Callable[[Store], Awaitable[T]]) -> T:
    """What a process killed right after its commit leaves: ``write``'s change and its frames
    in the database, nothing published (a store of its own, closed at once)."""
    dead = Store(db)
    await dead.open()
    try:
        return await write(dead)
    finally:
        await dead.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """One demo instance on a fresh SQLite file; ``root`` is its admin."""
    async with running_demo(tmp_path / "db.sqlite", admins=["root"]) as server:
        yield server


@pytest.fixture
async def ann(demo: RunningServer) -> User:
    return await sign_in(demo, "ann")


@pytest.fixture
async def bob(demo: RunningServer) -> User:
    return await sign_in(demo, "bob")
