"""A thin layer over the ``websockets`` client for protocol-level tests: every wait bounded."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 5.0


async def open_ws(url: str, **kwargs: Any) -> ClientConnection:
    return await connect(url, open_timeout=TIMEOUT, close_timeout=2, **kwargs)


async def recv_json(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def join(url: str, **kwargs: Any) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect and read the welcome frame (which must come first)."""
    ws = await open_ws(url, **kwargs)
    welcome = await recv_json(ws)
    assert welcome["type"] == "welcome", welcome
    return ws, welcome["data"]


async def join_sleeper(url: str, **kwargs: Any) -> tuple[ClientConnection, dict[str, Any]]:
    """``join`` for a client that will stop reading: its receive buffer is fixed small
    (no autotuning), so what it leaves unread piles up on the server, not in our kernel."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect((parts.hostname, parts.port))
    return await join(url, sock=sock, **kwargs)


async def request(ws: ClientConnection, type: str, data: Any = None, id: int = 1) -> dict[str, Any]:
    await ws.send(json.dumps({"type": type, "data": data, "id": id}))
    return await recv_json(ws)


async def close_of(ws: ClientConnection, timeout: float = TIMEOUT) -> tuple[int | None, str | None]:
    """Wait until the server closes ``ws`` (frames still arriving are discarded)."""
    async def drain() -> None:
        try:
            while True:
                await ws.recv()
        except ConnectionClosed:
            pass

    await asyncio.wait_for(drain(), timeout)
    return (ws.close_code, ws.close_reason)
