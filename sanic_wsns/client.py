"""One admitted client, as the app and the namespace see it, whatever carries it.

A ``Client`` writes, pings and closes through its ``ClientSocket`` (``interfaces.py``):
a WebSocket (``sanic_internals.FrameSink``), an SSE stream (``sse_stream.EventStream``)
or a POST (``sse_post.PostSocket``). Frames go straight into the socket's writer, with
no call in between: the write runs once per client per broadcast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .errors import CloseCode
from .keepalive import KeepaliveAction, keepalive_action
from .limits import TokenBucket
from .protocol import encode, ws_text_frame

#: Payload of the keepalive pings (one outstanding per client at most).
KEEPALIVE_PING = b"wsns-keepalive"

if TYPE_CHECKING:
    from sanic import Request

    from .deflate import FrameDeflater
    from .interfaces import ClientSocket
    from .namespace import Namespace


class Client:
    """A client in a namespace: server-assigned ``id``, the ``identity`` returned by
    the authorize hook (server-side only), its optional ``public`` part, and the ``user``
    the per-identity connection cap counted it under.

    Frames are written straight into the transport's buffer: no task and no await per
    delivery. That buffer *is* the client's bounded send queue: a client whose unsent
    bytes exceed ``max_send_queue`` is closed with 1013 and never slows anyone else.
    """

    __slots__ = ("id", "namespace", "identity", "public", "user", "expires_at", "recovered", "request",
                 "bucket", "deflater", "_socket", "_transport", "_max_queue", "_closing", "_pinged_at")

    def __init__(
        self,
        id: str,
        namespace: Namespace,
        socket: ClientSocket,
        request: Request,
        identity: Any,
        public: Any,
        bucket: TokenBucket,
        max_send_queue: int,
        user: Any = None,
        expires_at: float | None = None,
        deflater: FrameDeflater | None = None,
    ):
        self.id = id
        self.namespace = namespace
        self.identity = identity
        self.public = public
        self.user = user
        #: When the server closes this connection with 4001 ``expired`` (unix seconds),
        #: unless a ``refresh`` moves it; ``None``: never.
        self.expires_at = expires_at
        #: Whether the frames this client missed were sent after its welcome (``True``), it
        #: was told to ``resync`` (``False``), or it did not ask (``None``): an ``on_connect``
        #: that sends a snapshot skips it when ``True``.
        self.recovered: bool | None = None
        self.request = request
        self.bucket = bucket
        #: Set when its handshake agreed on permessage-deflate (``WSNS_COMPRESSION``);
        #: never for a stream or a POST.
        self.deflater = deflater
        self._socket = socket
        self._transport = socket.transport
        self._max_queue = max_send_queue
        self._closing = False
        self._pinged_at = asyncio.get_running_loop().time()

    @property
    def transport(self) -> str:
        """What carries its frames: ``websocket``, ``sse`` or ``post``
        (``wsns_transport_connections{transport}``)."""
        return self._socket.kind

    @property
    def open(self) -> bool:
        """Whether frames may still be sent: not once a Close was sent or received
        (RFC 6455 §5.5.1: nothing follows the Close), nor while the socket is closing."""
        return (not self._closing and self._socket.is_open()
                and not self._transport.is_closing())

    def ended(self) -> None:
        """The peer's Close arrived, or a frame failed the connection (``FrameSink`` says
        so): nothing more is written to it."""
        self._closing = True

    @property
    def close_code(self) -> int | None:
        """The close code this server sent (``None`` while none was): in ``on_disconnect``,
        why the connection ended (1013 for a slow consumer, say)."""
        return self._socket.close_code_sent()

    def write(self, frame: bytes) -> bool:
        """Queue one ready WebSocket frame; ``False`` if the client is gone or this frame
        left it too far behind (it is then closed with 1013)."""
        # Not ``open``: this runs once per client per broadcast, where the protocol's
        # ``state`` property cost 6% of a delivery's CPU (bench W1). ``_closing`` is set
        # by our own closes and by ``ended`` when the peer's Close arrives.
        transport = self._transport
        if self._closing or transport.is_closing():
            return False
        try:
            transport.write(frame)
        except RuntimeError:  # half-closed already (write_eof) by the closing handshake
            return False
        # Checked after queueing (as Centrifugo does), so one frame larger than the bound
        # cannot slip in under it: what the kernel did not take at once now waits here.
        if transport.get_write_buffer_size() > self._max_queue:
            return self._overflowed()
        return True

    def write_many(self, frames: list[bytes]) -> bool:
        """Queue several ready frames in one write (a returning client's welcome, missed
        frames and held ones: one send instead of one per frame); bounded as ``write``."""
        transport = self._transport
        if self._closing or transport.is_closing():
            return False
        try:
            transport.writelines(frames)
        except RuntimeError:  # half-closed already (write_eof) by the closing handshake
            return False
        if transport.get_write_buffer_size() > self._max_queue:
            return self._overflowed()
        return True

    def _overflowed(self) -> bool:
        """The send queue passed its bound: a slow consumer, closed with 1013 (``False``)."""
        self.namespace.counters.drop("slow_consumer")
        self.abort(CloseCode.TRY_AGAIN_LATER, "slow consumer")
        # The close frame sits behind a full buffer the client is not reading; waiting
        # for it to drain would keep exactly the memory this limit protects. Cut now.
        self._transport.abort()
        return False

    def send(self, type: str, data: Any = None) -> Sent:
        """Send ``{type, data}`` to this client only, at once (as Phoenix's ``push`` and
        centrifuge's ``Client.Send``: nothing to wait for, the frame is queued or the client
        is gone). The answer is truthy when the frame was queued; ``await client.send(...)``,
        the form of 0.1's coroutine, keeps working and gives the same ``bool``."""
        return SENT if self.write_own(encode(type, data)) else NOT_SENT

    def write_own(self, payload: bytes) -> bool:
        """Write one frame made for this client alone (a reply, a snapshot), compressed
        for it when it agreed on permessage-deflate, and count it (``Namespace.send_to``)."""
        frame = ws_text_frame(payload)
        if self.deflater is not None:
            frame = self.deflater.deflate(frame)
        return self.namespace.send_to(self, frame)

    async def update_presence(self, public: Any) -> None:
        """Show ``public`` as this client's public identity from now on: in a presence
        namespace every client (on every instance) gets a ``presence_diff`` whose ``joins``
        hold this client's id with the new value, which overwrites the old one (no leave).
        ``ConfigError`` in a namespace without presence; ``TypeError`` if ``public`` is not
        JSON-encodable."""
        await self.namespace.update_presence(self, public)

    def keepalive(self, now: float, interval: float, timeout: float) -> None:
        """One step of the shared keepalive: close a peer that did not answer the last
        ping within ``timeout``, or ping one last pinged ``interval`` ago.

        The pong is recognised by the connection (``ClientSocket.awaiting_pong``).
        """
        socket = self._socket
        if not self.open:
            return
        action = keepalive_action(now, self._pinged_at, socket.awaiting_pong(KEEPALIVE_PING),
                                  interval, timeout)
        if action is KeepaliveAction.TIMED_OUT:
            self.abort(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        elif action is KeepaliveAction.PING:
            socket.ping(KEEPALIVE_PING)
            self._pinged_at = now

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close with a handshake; the client's handler loop then ends normally."""
        self._closing = True
        await self._socket.close(code, reason)

    def abort(self, code: int, reason: str) -> None:
        """Close without waiting (send the close frame, then drop the TCP connection)."""
        self._closing = True
        self._socket.abort(code, reason)

    def __repr__(self) -> str:
        return f"<Client {self.id} in {self.namespace.path}>"


class Sent:
    """Whether ``Client.send`` queued its frame: truthy if so. Awaiting it gives the same
    answer as a ``bool``, so code written for the coroutine ``send`` of 0.1 runs unchanged."""

    __slots__ = ("queued",)

    def __init__(self, queued: bool):
        self.queued = queued

    def __bool__(self) -> bool:
        return self.queued

    def __await__(self) -> Generator[None, None, bool]:
        return self.queued
        yield  # a generator: ``await`` needs an iterator, this one ends at once

    def __repr__(self) -> str:
        return f"<Sent {self.queued}>"


#: The two answers of ``Client.send`` (no object made per send).
SENT = Sent(True)
NOT_SENT = Sent(False)
