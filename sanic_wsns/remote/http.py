"""One HTTP/1.1 exchange over asyncio streams: what the SSE transport needs and no more
(a GET whose body is read as it streams, a POST whose small body is read whole).

No HTTP library is a dependency of the package, and the client needs two requests, so this
is a request line, headers, and a body reader that understands ``Content-Length``, chunked
transfer encoding and a body that ends with the connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

#: Bytes allowed for the status line and headers of a response.
HEAD_LIMIT = 64 * 1024


class BadResponse(OSError):
    """The server's answer is not HTTP the client can read (an OSError: the network failed)."""


class Response:
    """A response whose head is read; its body is read with ``chunks`` or ``read``."""

    def __init__(self, status: int, headers: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        self.status = status
        #: Header names in lower case.
        self.headers = headers
        self._reader = reader
        self._writer = writer

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; ends with the body (``BadResponse`` if it was cut)."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            async for chunk in self._chunked():
                yield chunk
            return
        length = self.headers.get("content-length")
        remaining = int(length) if length is not None and length.isdigit() else None
        while remaining is None or remaining > 0:
            chunk = await self._reader.read(65536 if remaining is None else min(65536, remaining))
            if not chunk:
                if remaining:
                    raise BadResponse("the body ended early")
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk

    async def _chunked(self) -> AsyncIterator[bytes]:
        while True:
            size_line = await self._reader.readline()
            if not size_line.endswith(b"\n"):
                raise BadResponse("the chunked body ended early")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadResponse(f"a bad chunk size: {size_line[:40]!r}") from None
            if size == 0:
                return
            try:
                chunk = await self._reader.readexactly(size)
                await self._reader.readexactly(2)  # the chunk's CRLF
            except asyncio.IncompleteReadError:
                raise BadResponse("the chunked body ended early") from None
            yield chunk

    async def read(self, limit: int) -> bytes:
        """The whole body; ``BadResponse`` when it is over ``limit`` bytes."""
        body = bytearray()
        async for chunk in self.chunks():
            body += chunk
            if len(body) > limit:
                raise BadResponse(f"a body over {limit} bytes")
        return bytes(body)

    def close(self) -> None:
        self._writer.transport.abort()


async def request(method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
    """Send one request (``Connection: close``: one request per connection) and read the
    response's head. ``OSError`` (``BadResponse`` included) when the network or the server
    fails; ``asyncio.IncompleteReadError`` is turned into ``BadResponse``."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    reader, writer = await asyncio.open_connection(
        parts.hostname, port, ssl=ssl.create_default_context() if secure else None, limit=HEAD_LIMIT)
    try:
        target = parts.path or "/"
        lines = [f"{method} {target}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                 f"Host: {parts.netloc}", "Connection: close", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status, response_headers = await _head(reader)
    except BaseException:
        writer.transport.abort()
        raise
    return Response(status, response_headers, reader, writer)


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        raise BadResponse("no complete response head") from error
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise BadResponse(f"not an HTTP response: {status_line[:60]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(fields[1]), headers
