"""What bounds a slow upgrade request (slowloris) in Sanic itself, as docs/security.md says:
``REQUEST_TIMEOUT`` closes a connection whose request head stalls, but it counts from the
last byte received, so a client that trickles its head never meets it. The bound is the
reverse proxy's (nginx ``client_header_timeout``: the whole head within the time). If
Sanic ever bounds the whole head, the second test fails: then update the docs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from sanic_wsns import WsNamespaces
from tests.support.servers import new_app, serve

#: Seconds: Sanic's REQUEST_TIMEOUT for these tests (60 by default).
REQUEST_TIMEOUT = 1
HEAD = b"GET /ws/rooms/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


@asynccontextmanager
async def started_upgrade() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A server with a pattern, and a connection that sent an upgrade's head but its end."""
    app = new_app()
    app.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT
    WsNamespaces(app).pattern("/ws/rooms/<room:int>")
    async with serve(app) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(HEAD)
        try:
            yield reader, writer
        finally:
            writer.close()


async def test_a_stalled_upgrade_head_is_closed_after_request_timeout():
    async with started_upgrade() as (reader, _):
        answer = await asyncio.wait_for(reader.read(), timeout=REQUEST_TIMEOUT + 5)
        assert answer.startswith(b"HTTP/1.1 408")


async def test_a_trickled_upgrade_head_outlives_request_timeout():
    async with started_upgrade() as (reader, writer):
        for _ in range(3 * REQUEST_TIMEOUT * 4):  # one byte every quarter of the timeout
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(REQUEST_TIMEOUT / 4)  # the trickle itself is the stimulus
        with pytest.raises(TimeoutError):  # still open, nothing answered
            await asyncio.wait_for(reader.read(1), timeout=0.2)
