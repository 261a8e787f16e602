"""Test a sanic-wsns app's own handlers: the app on a real socket inside the test's event
loop, and Python clients that speak the protocol (``sanic_wsns.remote``).

    async def test_bids_reach_every_bidder():
        async with testing.serve(create_app()) as server:
            ann = await server.connect("/auctions/1", cookies={"user": "ann"})
            ...

No subprocess and no fixed port: the socket is bound to a free loopback port first and
handed to Sanic (which treats port 0 as "unset"), and the app's listeners run as under
``app.run``: startup, before/after start, then before/after stop on exit. Works with
pytest-asyncio (any loop scope: the server lives in the loop that enters the block).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sanic import Sanic

from . import remote
from .remote.options import QueryOption

#: What ``Server.connect`` changes from ``remote.connect``'s defaults, for tests: quick
#: retries, ``resync`` at once, and a client that cannot get in gives up after 5 attempts in
#: a row (``Closed``, reason "gave_up", with the last close code) instead of waiting forever.
TEST_CLIENT_OPTIONS: dict[str, Any] = {
    "backoff_base": 0.05, "backoff_max": 0.5, "resync_jitter": 0.0, "max_attempts": 5,
    "connect_timeout": 10.0, "request_timeout": 10.0,
}


@dataclass
class Server:
    """A running app: its address, and clients to it."""

    app: Sanic[Any, Any]
    host: str
    port: int
    _clients: list[remote.RemoteNamespace] = field(default_factory=list, repr=False)

    @property
    def http(self) -> str:
        """The base HTTP URL, e.g. for a REST call or as a same-site ``origin``."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def ws(self, path: str) -> str:
        return self.url(path)

    async def connect(self, path: str, *, cookies: Mapping[str, str] | None = None,
                      headers: Mapping[str, str] | None = None, origin: str | None = None,
                      query: QueryOption | None = None,
                      **options: Any) -> remote.RemoteNamespace:
        """A client of ``path``, open (``remote.Denied`` when the app refuses it). Options
        are ``remote.connect``'s (``token``...) over ``TEST_CLIENT_OPTIONS``. It is closed
        when the ``serve`` block exits, if the test did not close it."""
        sent = dict(headers or {})
        if cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        client = remote.connect(self.url(path), headers=sent, origin=origin, query=query,
                                **{**TEST_CLIENT_OPTIONS, **options})
        self._clients.append(client.namespace)
        return await client

    async def close_clients(self) -> None:
        for client in self._clients:
            await client.close()
        self._clients.clear()


def bound_socket(host: str, port: int | None) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host`` (a free port unless given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port or 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serve(app: Sanic[Any, Any], *, host: str = "127.0.0.1",
                port: int | None = None) -> AsyncIterator[Server]:
    """Run ``app`` until the block exits. Several servers may run at once: apps whose
    ``WsNamespaces`` share a broker URL (the same ``memory://name`` in one process, or a
    Redis URL) behave like instances behind a load balancer.

    It sets ``Sanic.test_mode``, as Sanic's own test client does: without it the second
    app started in one process fails in Sanic's start-up rewrite of its methods."""
    Sanic.test_mode = True
    sock = bound_socket(host, port)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    if server is None:  # only without return_asyncio_server
        raise RuntimeError("Sanic did not return its server")
    await server.startup()
    await server.before_start()
    await server.after_start()
    running = Server(app, host, sock.getsockname()[1])
    try:
        yield running
    finally:
        await running.close_clients()
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()
        # The name is free again: a test may build the same app again.
        Sanic.unregister_app(app)
