"""One admitted WebSocket connection, as the app and the namespace see it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from websockets.protocol import State

from .errors import CloseCode
from .keepalive import Step, keepalive_step
from .limits import TokenBucket
from .protocol import encode, ws_text_frame

#: Payload of the keepalive pings (one outstanding per client at most).
KEEPALIVE_PING = b"wsns-keepalive"

if TYPE_CHECKING:
    from sanic import Request
    from sanic.server.protocols.base_protocol import SanicProtocol
    from sanic.server.websockets.impl import WebsocketImplProtocol

    from .deflate import FrameDeflater
    from .namespace import Namespace


class Client:
    """A connection in a namespace: server-assigned ``id``, the ``identity`` returned by
    the authorize hook (server-side only), its optional ``public`` part, and the ``user``
    the per-identity connection cap counted it under.

    Frames are written straight into the transport's buffer: no task and no await per
    delivery. That buffer *is* the client's bounded send queue: a client whose unsent
    bytes exceed ``max_send_queue`` is closed with 1013 and never slows anyone else.
    """

    #: What carries its frames (``wsns_transport_connections{transport}``).
    transport = "websocket"

    __slots__ = ("id", "namespace", "identity", "public", "user", "expires_at", "recovered", "request",
                 "bucket", "deflater", "_ws", "_transport", "_max_queue", "_closing", "_pinged_at")

    def __init__(
        self,
        id: str,
        namespace: Namespace,
        ws: WebsocketImplProtocol,
        request: Request,
        identity: Any,
        public: Any,
        bucket: TokenBucket,
        max_send_queue: int,
        user: Any = None,
        expires_at: float | None = None,
        deflater: FrameDeflater | None = None,
    ):
        self._admitted(id, namespace, request, identity, public, bucket, max_send_queue, user, expires_at)
        self.deflater = deflater
        self._ws = ws
        # Sanic sets io_proto (with its transport) and loop when the connection opens,
        # before any Client exists; its types allow None only for the time before.
        io_proto = cast("SanicProtocol", ws.io_proto)
        self._transport = cast(asyncio.WriteTransport, io_proto.transport)
        self._pinged_at = cast(asyncio.AbstractEventLoop, ws.loop).time()
        # The shared KeepaliveSweep pings this client; Sanic's task per connection would
        # cost more memory than everything else sanic-wsns keeps for an idle client.
        if ws.keepalive_ping_task is not None:
            ws.keepalive_ping_task.cancel()
            ws.keepalive_ping_task = None

    def _admitted(self, id: str, namespace: Namespace, request: Request, identity: Any, public: Any,
                  bucket: TokenBucket, max_send_queue: int, user: Any, expires_at: float | None) -> None:
        """What every client is, whatever carries its frames (the SSE and POST clients of
        ``sse_stream.py`` and ``sse_post.py`` start here too)."""
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
        self.deflater = None
        self._max_queue = max_send_queue
        self._closing = False

    @property
    def open(self) -> bool:
        """Whether frames may still be sent: not once a Close was sent or received
        (RFC 6455 §5.5.1: nothing follows the Close), nor while the socket is closing."""
        return (not self._closing and self._ws.ws_proto.state is State.OPEN
                and not self._transport.is_closing())

    def ended(self) -> None:
        """The peer's Close arrived, or a frame failed the connection (``FrameSink`` says
        so): nothing more is written to it."""
        self._closing = True

    @property
    def close_code(self) -> int | None:
        """The close code this server sent (``None`` while none was): in ``on_disconnect``,
        why the connection ended (1013 for a slow consumer, say)."""
        sent = self._ws.ws_proto.close_sent
        return None if sent is None else sent.code

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
            self.namespace.counters.drop("slow_consumer")
            self.abort(CloseCode.TRY_AGAIN_LATER, "slow consumer")
            # The close frame sits behind a full buffer the client is not reading; waiting
            # for it to drain would keep exactly the memory this limit protects. Cut now.
            transport.abort()
            return False
        return True

    async def send(self, type: str, data: Any = None) -> bool:
        """Send one frame to this client only."""
        return self.write_own(encode(type, data))

    def write_own(self, payload: bytes) -> bool:
        """Write one frame made for this client alone (a reply, a snapshot), compressed
        for it when it agreed on permessage-deflate, and count it."""
        frame = ws_text_frame(payload)
        if self.deflater is not None:
            frame = self.deflater.deflate(frame)
        delivered = self.write(frame)
        if delivered:
            self.namespace.counters.messages_out += 1
        return delivered

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

        The pong is recognised by Sanic itself: it resolves and removes the entry this
        registers in ``ws.pings``.
        """
        ws = self._ws
        if not self.open:
            return
        step = keepalive_step(now, self._pinged_at, KEEPALIVE_PING in ws.pings, interval, timeout)
        if step is Step.TIMED_OUT:
            self.abort(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        elif step is Step.PING:
            loop = cast(asyncio.AbstractEventLoop, ws.loop)  # set while the connection is open
            ws.pings[KEEPALIVE_PING] = loop.create_future()
            ws.ws_proto.send_ping(KEEPALIVE_PING)
            for chunk in ws.ws_proto.data_to_send():
                self._transport.write(chunk)
            self._pinged_at = now

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close with a handshake; the client's handler loop then ends normally."""
        self._closing = True
        await self._ws.close(code, reason)

    def abort(self, code: int, reason: str) -> None:
        """Close without waiting (send the close frame, then drop the TCP connection)."""
        self._closing = True
        self._ws.fail_connection(code, reason)

    def __repr__(self) -> str:
        return f"<Client {self.id} in {self.namespace.path}>"
