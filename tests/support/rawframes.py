"""A WebSocket client at the byte level, for protocol tests the ``websockets`` client
cannot write: several frames in one TCP write, frames that break the protocol, floods of
control frames from a peer that never reads, and a record of every frame the server sent,
including any it sent after its Close."""

from __future__ import annotations

import base64
import os
import select
import socket
from urllib.parse import urlsplit

from websockets.frames import Close, Frame, Opcode

TIMEOUT = 5.0


def client_frame(opcode: Opcode, data: bytes = b"", fin: bool = True, rsv1: bool = False) -> bytes:
    """One masked client frame, as a browser would send it (``rsv1`` without an extension
    having been negotiated is a protocol error, so websockets will not build it: the bit
    is set on the serialized frame)."""
    frame = Frame(opcode, data, fin).serialize(mask=True)
    return bytes([frame[0] | 0x40]) + frame[1:] if rsv1 else frame


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return client_frame(Opcode.CLOSE, Close(code, reason).serialize())


def server_frames(data: bytes) -> list[Frame]:
    """Split what a server sent (unmasked frames, back to back) into frames; a truncated
    last frame is left out."""
    frames: list[Frame] = []
    at = 0
    while at + 2 <= len(data):
        first, length = data[at], data[at + 1] & 0x7F
        at += 2
        if length >= 126:
            width = 2 if length == 126 else 8
            length = int.from_bytes(data[at:at + width], "big")
            at += width
        if at + length > len(data):
            break
        fin, rsv1 = bool(first & 0x80), bool(first & 0x40)
        frames.append(Frame(Opcode(first & 0x0F), data[at:at + length], fin, rsv1))
        at += length
    return frames


class RawClient:
    """A blocking socket that completed a WebSocket handshake. Every read is bounded by
    ``TIMEOUT``; the blocking calls are meant for a thread (``asyncio.to_thread``) so the
    server in the test's loop keeps running."""

    def __init__(self, sock: socket.socket, received: bytes, head: bytes = b""):
        self.sock = sock
        self.received = bytearray(received)
        #: The handshake's answer: status line and headers.
        self.head = head

    @classmethod
    def connect(cls, url: str, rcvbuf: int | None = None, extensions: str | None = None) -> RawClient:
        """Open ``url`` (``ws://host:port/path``); ``rcvbuf`` fixes a small receive buffer
        (no autotuning) for a client that will not read; ``extensions`` is sent as the
        ``Sec-WebSocket-Extensions`` offer."""
        parts = urlsplit(url)
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(TIMEOUT)
        sock.connect((parts.hostname, parts.port))
        key = base64.b64encode(os.urandom(16)).decode()
        offer = "" if extensions is None else f"Sec-WebSocket-Extensions: {extensions}\r\n"
        sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{offer}"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"no handshake response: {response!r}")
            response += chunk
        head, _, rest = response.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {head!r}")
        return cls(sock, rest, head)

    def send(self, *frames: bytes) -> None:
        """Send ``frames`` in one write (one TCP segment on loopback when small)."""
        self.sock.sendall(b"".join(frames))

    def first_frame(self) -> Frame:
        """Read until one whole frame arrived (the welcome, after the handshake)."""
        return self.first_frames(1)[0]

    def first_frames(self, count: int) -> list[Frame]:
        """Read until ``count`` whole frames arrived; the first ``count`` frames."""
        while len(server_frames(bytes(self.received))) < count:
            if not self._read():
                raise ConnectionError(f"the stream ended before {count} frames")
        return server_frames(bytes(self.received))[:count]

    def readable(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def frames_until_eof(self) -> list[Frame]:
        """Everything the server sent, up to the end of the TCP stream."""
        while self._read():
            pass
        return server_frames(bytes(self.received))

    def close(self) -> None:
        self.sock.close()

    def _read(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return False
        self.received += chunk
        return bool(chunk)
