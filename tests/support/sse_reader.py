"""A raw SSE reader for tests, over ``asyncio.open_connection`` (no HTTP client library).

It sends one ``GET`` and reads the answer as a browser's ``EventSource`` would: the status
and headers, then the chunked body cut into events (``event``, ``id``, ``data`` lines, a
blank line ends one) and comments (``: ping``). Every read is bounded. The wire is kept
as it came (``raw``), so a test can assert what the bytes were, not only what they meant.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.demo import Response, http

TIMEOUT = 5.0


@dataclass
class Event:
    type: str
    data: str
    id: str | None = None

    @property
    def frame(self) -> dict[str, Any]:
        return json.loads(self.data)


@dataclass
class Stream:
    """One open SSE response."""

    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    body: bytes = b""  # the body of a refusal (not streamed)
    comments: list[str] = field(default_factory=list)
    last_id: str | None = None
    _buffer: bytes = b""
    _ended: bool = False

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    async def next(self, timeout: float = TIMEOUT) -> Event:
        """The next event (comments are kept in ``comments``); ``EOFError`` at the end."""
        async with asyncio.timeout(timeout):
            while not isinstance(found := await self._block(), Event):
                pass
            return found

    async def _block(self) -> Event | str:
        """The next event or comment."""
        while True:
            block, sep, rest = self._buffer.partition(b"\n\n")
            if sep:
                self._buffer = rest
                return self._parse(block.decode())
            if self._ended:
                raise EOFError("the stream ended")
            await self._read_chunk()

    async def until(self, type: str, timeout: float = TIMEOUT) -> Event:
        async with asyncio.timeout(timeout):
            while (found := await self.next(timeout)).type != type:
                pass
            return found

    async def comment(self, timeout: float = TIMEOUT) -> str:
        """The next comment line (events before it are skipped)."""
        async with asyncio.timeout(timeout):
            while not isinstance(found := await self._block(), str):
                pass
            return found

    async def ended(self, timeout: float = TIMEOUT) -> list[Event]:
        """Every event until the stream ends."""
        events = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    events.append(await self.next(timeout))
                except EOFError:
                    return events

    def _parse(self, block: str) -> Event | str:
        type, data, id, comment = "message", [], None, ""
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "":
                self.comments.append(value)
                comment = value
            elif name == "event":
                type = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                id = value
        if not data:
            return comment
        if id is not None:
            self.last_id = id
        return Event(type, "\n".join(data), id)

    async def _read_chunk(self) -> None:
        try:
            size_line = await self.reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError:
            self._ended = True
            return
        size = int(size_line.strip(), 16)
        if size == 0:
            self._ended = True
            return
        self._buffer += await self.reader.readexactly(size)
        await self.reader.readexactly(2)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_stream(host: str, port: int, path: str, headers: Mapping[str, str] | None = None,
                      timeout: float = TIMEOUT, *, sleeper: bool = False) -> Stream:
    """``GET path`` as an ``EventSource`` would, up to the end of the response headers.
    ``sleeper``: a reader that will stop reading, with a small fixed receive buffer (no
    autotuning), so what it leaves unread piles up on the server, not in our kernel."""
    if sleeper:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    else:
        reader, writer = await asyncio.open_connection(host, port)
    sent = {"Host": f"{host}:{port}", "Accept": "text/event-stream", **(headers or {})}
    writer.write((f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items())
                  + "\r\n").encode())
    async with asyncio.timeout(timeout):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status_line, *lines = head.strip().split("\r\n")
    found = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    stream = Stream(int(status_line.split()[1]), found, reader, writer)
    if "content-length" in found:
        async with asyncio.timeout(timeout):
            stream.body = await reader.readexactly(int(found["content-length"]))
    return stream


async def post_frame(server: Any, path: str, frame: Any, token: str | None,
                     headers: Mapping[str, str] | None = None) -> Response:
    """One client frame POSTed to ``path`` (``X-Wsns-Client: token`` when given)."""
    sent = dict(headers or {})
    if token is not None:
        sent["X-Wsns-Client"] = token
    body = frame if isinstance(frame, bytes) else json.dumps(frame).encode()
    return await http(server, "POST", path, raw=body, headers=sent)
