"""Every reach into Sanic's WebSocket internals, in one module.

Sanic gives each WebSocket a frame assembler built for a reader that calls ``recv()``:
an ``asyncio.Queue`` and two ``Event``s (seven empty deques, ~5 KiB) and two ``Lock``s,
and every ``recv()`` waits in a task of its own next to a cancel future (~2 KiB more).
For an idle connection that was a quarter of its memory (bench W3: 25.7 KiB per idle
connection, a bare ``websockets`` server 14.5; ``python -m bench.memory`` itemizes it).
sanic-wsns screens every message the moment it arrives anyway, so ``FrameSink`` takes
the assembler's place and hands each whole message to a callback, and the connection's
handler waits on one future until the peer closes.

What this relies on, each checked by ``tests/unit/test_sanic_internals.py`` so that a
Sanic release that changes it fails there, loudly, rather than in production:

* ``WebsocketImplProtocol.process_events`` hands every data frame (text, binary,
  continuation) to ``ws.assembler.put(frame)`` and only ``recv*`` call anything else on
  the assembler;
* a close frame, or the end of the stream, cancels ``ws.recv_cancel`` when it is set;
* ``ws.pause_frames()`` / ``ws.resume_frames()`` stop and restart reading the socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Never

from sanic.exceptions import ServerError
from websockets.frames import CloseCode, Frame, Opcode
from websockets.typing import BytesLike

if TYPE_CHECKING:
    from sanic.server.websockets.impl import WebsocketImplProtocol

Message = str | bytes
#: Receives each whole message as it arrives (text as ``str``, binary as ``bytes``).
Deliver = Callable[[Message], None]


class FrameSink:
    """Stands in for Sanic's frame assembler: joins a message's frames and hands the
    message to ``deliver`` at once.

    Until ``start`` names ``deliver`` (the client is joining, its hooks are running) the
    messages wait here in arrival order and the socket stops being read, as Sanic's
    assembler does when nobody is reading: a client cannot pile up more than one read's
    worth meanwhile.
    """

    __slots__ = ("_ws", "_deliver", "_waiting", "_fragments", "_text")

    def __init__(self, ws: WebsocketImplProtocol):
        self._ws = ws
        self._deliver: Deliver | None = None
        self._waiting: list[Message] | None = None
        self._fragments: list[BytesLike] | None = None
        self._text = False

    def start(self, deliver: Deliver) -> None:
        """Deliver the messages that waited, then every later one as it arrives."""
        self._deliver = deliver
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            for message in waiting:
                deliver(message)
            self._ws.resume_frames()  # type: ignore[no-untyped-call]

    async def put(self, frame: Frame) -> None:
        """Called by Sanic for every data frame, in order (an ``async`` method because
        Sanic awaits it; it never waits)."""
        opcode = frame.opcode
        data: BytesLike
        if opcode is Opcode.CONT:
            if self._fragments is None:  # the protocol layer rejects this; never trust it
                return
            self._fragments.append(frame.data)
            if not frame.fin:
                return
            data, self._fragments = b"".join(self._fragments), None
        elif opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._text = opcode is Opcode.TEXT
            if not frame.fin:
                self._fragments = [frame.data]
                return
            data = frame.data
        else:
            return  # control frames: Sanic answers pings and handles pongs and close itself
        if not isinstance(data, bytes):
            data = bytes(data)
        if self._text:
            try:
                message: Message = data.decode()
            except UnicodeDecodeError:
                self._ws.fail_connection(CloseCode.INVALID_DATA, "invalid UTF-8 in a text frame")
                return
        else:
            message = data
        if self._deliver is not None:
            self._deliver(message)
        elif self._waiting is None:
            self._waiting = [message]
            self._ws.pause_frames()  # type: ignore[no-untyped-call]
        else:
            self._waiting.append(message)

    async def get(self, timeout: float | None = None) -> Message | None:
        """``ws.recv()`` lands here: frames go to ``deliver`` instead."""
        raise ServerError("sanic-wsns reads this connection's frames itself; ws.recv() is not available")

    def get_iter(self) -> Never:
        """``ws.recv_streaming()`` lands here: frames go to ``deliver`` instead."""
        raise ServerError("sanic-wsns reads this connection's frames itself; ws.recv_streaming() "
                          "is not available")


def take_frames(ws: WebsocketImplProtocol) -> FrameSink:
    """Replace ``ws``'s frame assembler with a ``FrameSink``. Call it before the handler's
    first ``await``: no frame has reached the assembler yet then (Sanic runs the handler's
    first step before the first ``data_received`` task)."""
    sink = FrameSink(ws)
    # Duck-typed: put, get and get_iter are all Sanic calls on its assembler.
    ws.assembler = sink  # type: ignore[assignment]
    return sink


async def until_closed(ws: WebsocketImplProtocol) -> None:
    """Wait until the peer closes: Sanic cancels ``recv_cancel`` on a close frame or at
    the end of the stream, which raises ``CancelledError`` here, as ``ws.recv()`` would.
    (When the TCP connection is lost, Sanic cancels the handler's task instead.)"""
    loop = ws.loop
    assert loop is not None  # set by Sanic's handshake, before the handler runs
    ended = loop.create_future()
    ws.recv_cancel = ended
    await ended
