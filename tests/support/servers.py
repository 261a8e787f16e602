"""Real servers for tests: Sanic apps on pre-bound loopback sockets, inside the test's loop.

Sanic treats port 0 as "unset", so the socket is bound by us and handed over; the app's
listeners run exactly as under ``app.run``: startup, before/after start, before/after stop.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sanic import Sanic

_app_names = itertools.count()


def new_app(prefix: str = "wsns_test") -> Sanic:
    """A fresh Sanic app with a unique name (several may live in one test process)."""
    Sanic.test_mode = True
    app = Sanic(f"{prefix}_{next(_app_names)}")
    # sanic-ext's auto-extension (OpenAPI, templating...) costs ~0.5 s per start and
    # nothing under test needs it.
    app.config.AUTO_EXTEND = False
    app.config.MOTD = False
    return app


@dataclass
class RunningServer:
    app: Sanic
    host: str
    port: int

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"


@asynccontextmanager
async def serve(app: Sanic, port: int | None = None) -> AsyncIterator[RunningServer]:
    """Run ``app`` on 127.0.0.1 (a free port unless given) until the block exits."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    sock.listen(1024)
    sock.setblocking(False)
    bound_port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield RunningServer(app, "127.0.0.1", bound_port)
    finally:
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()
        Sanic._app_registry.pop(app.name, None)


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds (for server-side state
    that has no event to await, such as a counter another task updates)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        await asyncio.sleep(interval)
