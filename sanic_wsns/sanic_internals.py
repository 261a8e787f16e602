"""Every reach into Sanic's WebSocket internals, in one module (``tests/unit/test_layers.py``
fails any other module that names one).

Sanic gives each WebSocket a frame assembler built for a reader that calls ``recv()``:
an ``asyncio.Queue`` and two ``Event``s (seven empty deques, ~5 KiB) and two ``Lock``s,
and every ``recv()`` waits in a task of its own next to a cancel future (~2 KiB more).
For an idle connection that was a quarter of its memory (bench W3: 25.7 KiB per idle
connection, a bare ``websockets`` server 14.5; ``python -m bench.memory`` itemizes it).
sanic-wsns screens every message the moment it arrives anyway, so ``FrameSink`` takes
the assembler's place and hands each whole message to a callback, and the connection's
handler waits on one future until the peer closes.

``FrameSink`` reads the socket too. Sanic's ``data_received`` parses each read, then
writes the protocol's answers (pongs) and hands on the frames in a task per read; that
task waits while the transport's writes are paused, so a peer that sends pings and never
reads grew one waiting task per read, each holding its pongs: 150 MB of pings cost the
server ~500 MB (issue 21). ``FrameSink.data_received`` does the same work at once, with
the pongs under the send-queue bound that covers every other frame.

What this relies on, each checked by ``tests/unit/test_sanic_internals.py`` so that a
Sanic release that changes it fails there, loudly, rather than in production:

* Sanic's connection hands every read to ``ws.data_received`` (an attribute of ``ws``,
  which an instance attribute can replace), and ``process_events``, still used at the end
  of the stream, hands every data frame (text, binary, continuation) to
  ``ws.assembler.put(frame)``; only ``recv*`` call anything else on the assembler;
* ``ws.pings`` maps a ping sent through Sanic's ``ws.ping`` to the future its pong resolves
  (the keepalive sweep's own pings need no future: ``FrameSink.ping``);
* ``ws.keepalive_ping_task`` is Sanic's ping task for the connection (the shared sweep
  replaces it), and ``ws.ws_proto.max_message_size`` the limit its protocol enforces (1009);
* a close frame, or the end of the stream, cancels ``ws.recv_cancel`` when it is set;
* the end of the data stream is signalled to Sanic's closer by resolving
  ``ws.data_finished_fut`` while ``ws.auto_closer_task`` runs;
* ``ws.pause_frames()`` / ``ws.resume_frames()`` stop and restart reading the socket;
* Sanic's connection (``ws.io_proto``) checks its HTTP timeouts with a timer
  (``_callback_check_timeouts``) that, once the handler of an upgraded connection runs,
  only ends itself (``_cancel_http_timeouts``); it keeps two ``asyncio.Event``s, ``_can_write`` and
  ``_data_received``, and only calls ``set``, ``clear``, ``is_set`` and ``wait`` on them
  (``SlimEvent`` takes their place: ~1.4 KiB of an idle connection's memory); an SSE
  stream's connection is the same ``HttpProtocol``, whose timer keeps checking the
  response timeout while the handler runs (``slim_stream`` ends it once the stream is
  answered and joined);
* a route's ``subprotocols`` are iterated anew at every handshake, inside the upgrade's
  request context (``NegotiatedProtocol``; a real handshake is needed to see it, so
  ``tests/integration/core/test_tokens.py`` checks this one);
* the handshake builds the class named ``ServerProtocol`` in Sanic's
  ``websocket_protocol`` module, inside the upgrade's request context, and writes the
  headers of what its ``accept`` answers (``DeflateServerProtocol``; checked by a real
  handshake in ``tests/integration/core/test_compression.py``);
* the handshake builds the class named ``WebsocketImplProtocol`` in that module too, and
  awaits its ``connection_made`` inside the upgrade's request context; every path of
  Sanic's that ends a connection closes the transport itself when ``auto_closer_task`` is
  ``None`` (``SlimWebsocket``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from typing import Never, cast

from sanic import Request
from sanic.exceptions import ServerError
from sanic.server.protocols import websocket_protocol
from sanic.server.protocols.base_protocol import SanicProtocol
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.datastructures import Headers
from websockets.extensions import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import BytesLike

from . import deflate
from .errors import ConfigError
from .tokens import PROTOCOL

Message = str | bytes
#: Receives each whole message as it arrives (text as ``str``, binary as ``bytes``).
OnMessage = Callable[[Message], None]


class FrameSink:
    """Reads one connection in place of Sanic: writes what the protocol answers (pongs,
    the Close), joins a message's frames and hands the message to ``deliver`` at once.

    Until ``start`` names ``deliver`` (the client is joining, its hooks are running) the
    messages wait here in arrival order and the socket stops being read, as Sanic's
    assembler does when nobody is reading: a client cannot pile up more than one read's
    worth meanwhile.

    It is also the ``ClientSocket`` its ``Client`` writes, pings and closes through, so
    the client reaches Sanic through this door only.

    Nothing is handed on once the connection is no longer open: a message that shares a
    read with a Close or with a frame that fails the connection is not handled (nobody
    could receive its answer, and RFC 6455 §7.1.7 says to stop processing a failed
    connection's data).
    """

    __slots__ = ("_ws", "_deliver", "_waiting", "_fragments", "_text",
                 "_max_fragments", "_max_unsent", "_ended", "_on_end", "_unanswered_ping")

    #: ``ClientSocket.kind``.
    kind = "websocket"

    def __init__(self, ws: WebsocketImplProtocol, max_fragments: int, max_unsent: int):
        self._ws = ws
        self._deliver: OnMessage | None = None
        self._waiting: list[Message] | None = None
        self._fragments: list[BytesLike] | None = None
        self._text = False
        self._max_fragments = max_fragments
        self._max_unsent = max_unsent
        #: The protocol left OPEN (a Close received, or a frame that failed the connection).
        self._ended = False
        self._on_end: Callable[[], None] | None = None
        #: The payload of the keepalive ping sent last, until its pong arrives.
        self._unanswered_ping: bytes | None = None

    def start(self, deliver: OnMessage) -> None:
        """Deliver the messages that waited, then every later one as it arrives."""
        self._deliver = deliver
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            for message in waiting:
                deliver(message)
            self._ws.resume_frames()  # type: ignore[no-untyped-call]

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the protocol is no longer open (at once if it is not):
        the client then stops writing, with no protocol check on every write."""
        self._on_end = callback
        if self._ended:
            callback()

    def _ended_now(self) -> None:
        if not self._ended:
            self._ended = True
            if self._on_end is not None:
                self._on_end()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (Close with ``code``) and stop the client's writes with it."""
        self._ws.fail_connection(code, reason)
        self._ended_now()

    def data_received(self, data: bytes) -> None:
        """Sanic's connection hands every read here (``take_frames`` put this method in
        place of ``ws.data_received``): parse it, write the protocol's answers, hand on
        its frames, all before returning: no task per read, and nothing waits."""
        proto = self._ws.ws_proto
        proto.receive_data(data)
        if proto.state is not State.OPEN:
            self._ended_now()
        self._write(proto.data_to_send())
        for event in proto.events_received():
            if isinstance(event, Frame):
                self._dispatch(event)

    async def put(self, frame: Frame) -> None:
        """Sanic's ``process_events`` hands data frames here: frames of a read that Sanic's
        own ``data_received`` took before ``take_frames`` (an ``async`` method because Sanic
        awaits it; it never waits)."""
        self._take(frame)

    async def get(self, timeout: float | None = None) -> Message | None:
        """``ws.recv()`` lands here: frames go to ``deliver`` instead."""
        raise ServerError("sanic-wsns reads this connection's frames itself; ws.recv() is not available")

    def get_iter(self) -> Never:
        """``ws.recv_streaming()`` lands here: frames go to ``deliver`` instead."""
        raise ServerError("sanic-wsns reads this connection's frames itself; ws.recv_streaming() "
                          "is not available")

    def _write(self, chunks: list[bytes]) -> None:
        """Write what the protocol answered. Pongs count against the send-queue bound as
        every frame ``Client.write`` queues does: a peer that leaves more than
        ``max_unsent`` bytes unread is closed with 1013 and cut off, as a slow consumer."""
        if not chunks:  # most reads: nothing to answer
            return
        transport = self.transport  # set by Sanic's handshake, before the first read
        for chunk in chunks:
            if transport.is_closing():
                return
            if chunk:
                transport.write(chunk)
            else:
                self._end_of_stream()
        if transport.get_write_buffer_size() > self._max_unsent:
            self._fail(CloseCode.TRY_AGAIN_LATER, "slow consumer")
            transport.abort()  # the Close sits behind what the peer does not read

    def _end_of_stream(self) -> None:
        """The protocol is done sending (after a Close): half-close the TCP connection, as
        Sanic's own ``send_data`` has its closer do."""
        ws = self._ws
        finished, closer = ws.data_finished_fut, ws.auto_closer_task
        if closer is not None and not closer.done() and finished is not None and not finished.done():
            finished.set_result(None)
        elif isinstance(ws, SlimWebsocket):
            ws.half_close()
        else:
            SanicProtocol.close(cast(SanicProtocol, ws.io_proto), timeout=1.0)

    def _dispatch(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.PONG:
            payload = bytes(frame.data)
            if payload == self._unanswered_ping:
                self._unanswered_ping = None
            _acknowledge(self._ws.pings, payload)
        elif opcode is Opcode.CLOSE:
            if self._ws.recv_cancel is not None:
                self._ws.recv_cancel.cancel()
        else:
            self._take(frame)

    def _take(self, frame: Frame) -> None:
        """One data frame, in order: a message's last frame hands the message on."""
        if self._ws.ws_proto.state is not State.OPEN:
            return  # closing or failed: what arrives now is not handled
        opcode = frame.opcode
        if opcode is Opcode.CONT:
            fragments = self._fragments
            if fragments is None:  # the protocol layer rejects this; never trust it
                return
            fragments.append(frame.data)
        elif opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._text = opcode is Opcode.TEXT
            if frame.fin:
                self._complete(frame.data)
                return
            fragments = self._fragments = [frame.data]
        else:
            return  # ping: the protocol layer answered it
        if frame.fin:
            self._fragments = None
            self._complete(b"".join(fragments))
        elif len(fragments) >= self._max_fragments:
            # One branch per frame keeps a flood of tiny continuation frames (which the
            # message size limit lets through by the ten thousand) from costing a core.
            self._fail(CloseCode.POLICY_VIOLATION, f"a message in more than {self._max_fragments} frames")

    def _complete(self, data: BytesLike) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)
        if self._text:
            try:
                message: Message = data.decode()
            except UnicodeDecodeError:
                self._fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text frame")
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


    # -- what a Client needs of its connection (interfaces.ClientSocket) ----------------------

    @property
    def transport(self) -> asyncio.WriteTransport:
        """The socket's transport (set by Sanic's handshake, before the handler runs)."""
        return cast(asyncio.WriteTransport, cast(SanicProtocol, self._ws.io_proto).transport)

    def is_open(self) -> bool:
        return self._ws.ws_proto.state is State.OPEN

    def close_code_sent(self) -> int | None:
        sent = self._ws.ws_proto.close_sent
        return None if sent is None else sent.code

    def awaiting_pong(self, payload: bytes) -> bool:
        return payload == self._unanswered_ping

    def ping(self, payload: bytes) -> None:
        """Write a keepalive ping, built once per payload (a server frame is not masked):
        no future in ``ws.pings`` and no frame object per ping, for a cost paid by every
        idle connection every interval (bench ``keepalive``). Its pong is recognised in
        ``_dispatch``."""
        self._unanswered_ping = payload
        self.transport.write(_ping_frame(payload))

    def abort(self, code: int, reason: str) -> None:
        self._ws.fail_connection(code, reason)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)

    def stop_sanic_keepalive(self) -> None:
        """Cancel Sanic's ping task for this connection: the shared ``KeepaliveSweep``
        pings it instead (a task per connection cost more memory than everything else
        sanic-wsns keeps for an idle client)."""
        ws = self._ws
        if ws.keepalive_ping_task is not None:
            ws.keepalive_ping_task.cancel()
            ws.keepalive_ping_task = None


@functools.cache
def _ping_frame(payload: bytes) -> bytes:
    """The bytes of a server's ping with ``payload`` (the keepalive's payload is fixed)."""
    return Frame(Opcode.PING, payload).serialize(mask=False)


def _acknowledge(pings: dict[bytes, asyncio.Future[None]], payload: bytes) -> None:
    """A pong acknowledges its ping and every ping sent before it, as Sanic's own
    ``process_pong`` does (for pings sent through Sanic's ``ws.ping``)."""
    if payload not in pings:
        return
    for sent in list(pings):
        waiter = pings.pop(sent)
        if not waiter.done():
            waiter.set_result(None)
        if sent == payload:
            return


class SlimEvent:
    """An ``asyncio.Event`` for Sanic's connection, whose waiters are made on first use.

    ``asyncio.Event`` builds an empty ``deque`` of waiters at once (~0.7 KiB: a 64-slot
    block), and Sanic's connection keeps two (``_can_write``, ``_data_received``) for its
    whole life, though after the handshake nothing waits on the one and only a paused
    write waits on the other: together the largest part of an idle connection that
    sanic-wsns could cut (bench W3, ``python -m bench.memory``)."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: bool = False):
        self._value = value
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            return await waiter
        finally:
            self._waiters.remove(waiter)


def _slim_events(io_proto: SanicProtocol) -> None:
    """Put ``SlimEvent``s in place of the connection's two ``asyncio.Event``s, keeping
    their state (no write is paused and nothing waits on either mid-handshake)."""
    io_proto._can_write = SlimEvent(io_proto._can_write.is_set())  # type: ignore[assignment]
    io_proto._data_received = SlimEvent(io_proto._data_received.is_set())  # type: ignore[assignment]


def _cancel_http_timeouts(io_proto: SanicProtocol) -> None:
    """Cancel Sanic's HTTP timeout check now rather than when it fires (up to half the
    shortest HTTP timeout later, 30 s by default) and does nothing for an upgraded
    connection but end itself: until then its timer held ~0.5 KiB of every new
    connection's memory (bench W3)."""
    timer = getattr(io_proto, "_callback_check_timeouts", None)
    if timer is not None:
        timer.cancel()
        io_proto._callback_check_timeouts = None  # type: ignore[attr-defined]


def slim_stream(request: Request) -> None:
    """A joined SSE stream's connection, idle from now on: ``SlimEvent``s in place of its
    two events and no HTTP timeout check, as an upgraded connection's (``take_frames``).
    Nothing waits on either event meanwhile (Sanic reads no body of a ``GET``, and the
    stream writes its events and pings straight into the transport), and the check could
    only cut a stream that is answered and lasts until it is closed. Call it while
    nothing awaits Sanic's ``send``; the response timeout bounds everything before."""
    io_proto = cast(SanicProtocol, request.transport.get_protocol())
    _slim_events(io_proto)
    _cancel_http_timeouts(io_proto)


def take_frames(ws: WebsocketImplProtocol, max_fragments: int, max_unsent: int,
                max_size: int | None = None) -> FrameSink:
    """Read ``ws`` with a ``FrameSink`` from now on: it takes the place of the frame
    assembler and of ``data_received``. Call it before the handler's first ``await``: no
    frame has reached the assembler yet then (Sanic runs the handler's first step before
    the first ``data_received`` task).

    ``max_fragments``: frames one message may be cut into (more closes with 1008);
    ``max_unsent``: bytes the peer may leave unread (more closes with 1013);
    ``max_size``: bytes of one message (more closes with 1009; ``None``: Sanic's own)."""
    if max_size is not None:
        ws.ws_proto.max_message_size = max_size
    sink = FrameSink(ws, max_fragments, max_unsent)
    # Duck-typed: put, get and get_iter are all Sanic calls on its assembler.
    ws.assembler = sink  # type: ignore[assignment]
    ws.data_received = sink.data_received  # type: ignore[method-assign]
    if ws.io_proto is not None:  # a real connection (always, but in unit tests)
        _slim_events(ws.io_proto)
        _cancel_http_timeouts(ws.io_proto)
    return sink


def until_closed(ws: WebsocketImplProtocol) -> asyncio.Future[None]:
    """What to await until the peer closes: Sanic cancels ``recv_cancel`` on a close frame
    or at the end of the stream, which raises ``CancelledError`` in the awaiting handler,
    as ``ws.recv()`` would. (When the TCP connection is lost, Sanic cancels the handler's
    task instead.) A future, not a coroutine: one frame less kept by every idle
    connection's handler (bench W3)."""
    loop = ws.loop
    assert loop is not None  # set by Sanic's handshake, before the handler runs
    ended: asyncio.Future[None] = loop.create_future()
    ws.recv_cancel = ended
    return ended


class NegotiatedProtocol:
    """A WebSocket route's ``subprotocols``: ``wsns.v1`` for an upgrade that offers it,
    none for one that does not.

    Sanic fixes a route's subprotocols when the route is added, and websockets refuses an
    upgrade that offers none of a fixed list (HTTP 400, which Sanic answers as 500), so
    ``["wsns.v1"]`` would shut out every client that offers no subprotocol (v1.1 clients,
    plain ``websockets``). Left out, a browser that offered ``wsns.v1`` (to carry its
    token) fails a handshake answered without it. Sanic iterates this object at each
    handshake, in the upgrade's request context, so each upgrade gets its own answer."""

    def __iter__(self) -> Iterator[str]:
        try:
            request = Request.get_current()
        except ServerError:  # outside a request: nothing to negotiate
            return iter(())
        offered = (part.strip() for value in request.headers.getall("sec-websocket-protocol", [])
                   for part in value.split(","))
        return iter((PROTOCOL,) if PROTOCOL in offered else ())


class DeflateServerProtocol(ServerProtocol):
    """websockets' server side of a handshake as Sanic builds it for every upgrade, plus
    permessage-deflate on the routes that ask for it (``ctx_wsns_deflate=True``).

    Sanic builds its ``ServerProtocol`` with no extensions and writes the handshake's
    answer itself, with no hook in between; ``offer_deflate`` has it build this one
    instead. On any other route (another app's, or a route of this app that does not ask)
    it is websockets' own, unchanged. A header the server cannot honour leaves the
    connection uncompressed (``deflate.accept``), never refuses the upgrade.

    The agreed extension is websockets' ``PerMessageDeflate``: ``FrameSink``'s reads go
    through the protocol's parser, which decompresses each message with the limits the
    connection sets (``max_message_size``: a message that inflates past it closes with
    1009), and nothing is kept between messages (``client_no_context_takeover``). Frames
    the server writes itself (``Client.write``) bypass it: they were compressed once for
    every client (``deflate.FrameDeflater``).
    """

    def process_extensions(self, headers: Headers) -> tuple[str | None, list[Extension]]:
        try:
            route = Request.get_current().route
        except ServerError:  # outside a request: nothing of ours
            route = None
        if route is None or not getattr(route.ctx, "wsns_deflate", False):
            return super().process_extensions(headers)
        agreement = deflate.accept(headers.get_all("Sec-WebSocket-Extensions"))
        if agreement is None:
            return None, []
        return agreement, [agreed_extension()]


def agreed_extension() -> PerMessageDeflate:
    """websockets' permessage-deflate as every agreement sets it: no context takeover
    either way (``deflate.AGREEMENT``), so it keeps no inflater between messages."""
    return PerMessageDeflate(remote_no_context_takeover=True, local_no_context_takeover=True,
                             remote_max_window_bits=deflate.WINDOW_BITS,
                             local_max_window_bits=deflate.WINDOW_BITS)


def offer_deflate() -> None:
    """Have Sanic build every upgrade's protocol as a ``DeflateServerProtocol`` (Sanic's
    handshake reads the name ``ServerProtocol`` from its module at each upgrade). Once
    per process; it changes nothing for a route that does not ask for deflate."""
    current = websocket_protocol.ServerProtocol  # type: ignore[attr-defined]
    if current is DeflateServerProtocol:
        return
    if current is not ServerProtocol:
        raise ConfigError(f"Sanic's WebSocket handshake builds {current!r}, not websockets' ServerProtocol: "
                          "WSNS_COMPRESSION cannot negotiate permessage-deflate there")
    websocket_protocol.ServerProtocol = DeflateServerProtocol  # type: ignore[attr-defined]


def deflate_agreed(ws: WebsocketImplProtocol) -> bool:
    """Whether this connection's handshake agreed on permessage-deflate."""
    return any(isinstance(extension, PerMessageDeflate) for extension in ws.ws_proto.extensions)


class SlimWebsocket(WebsocketImplProtocol):
    """Sanic's WebSocket as its handshake builds it for every upgrade, minus the closer
    task on sanic-wsns's routes (``ctx_wsns=True``).

    Sanic starts a task per connection (``auto_close_connection``) that waits, behind an
    ``asyncio.shield``, for the end of the data transfer, to half-close the TCP
    connection then: its task, coroutine, shield and futures were ~2 KiB of every idle
    connection's 15 (``python -m bench.memory``; bench W3 15.5 -> 13.6 KiB), kept only to
    close a socket.
    Without it, every path of Sanic's that ends the connection closes the transport
    itself (``fail_connection``, ``end_connection``: ``_force_disconnect``, which closes
    it and aborts it ``close_timeout`` later; ``send_data`` after a Close:
    ``SanicProtocol.close``), and at the end of the data transfer ``FrameSink`` has
    ``half_close`` do what the closer did. Nothing awaits ``data_finished_fut`` or
    ``connection_lost_waiter`` without it, so neither is made. On any other route it is
    Sanic's own, unchanged."""

    #: Aborts a half-closed connection whose peer does not end it (set by ``half_close``).
    _abort_timer: asyncio.TimerHandle | None = None

    async def connection_made(self, io_proto: SanicProtocol,
                              loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not _upgrading_wsns_route():
            await super().connection_made(io_proto, loop)
            return
        self.loop = loop or asyncio.get_running_loop()
        self.io_proto = io_proto
        if self.ping_interval:  # until the client joins: ``FrameSink.stop_sanic_keepalive``
            self.keepalive_ping_task = asyncio.create_task(self.keepalive_ping())

    def half_close(self) -> None:
        """What Sanic's closer does once the data transfer is over: half-close the TCP
        connection, so the peer ends it once it has read the Close (Sanic then cancels the
        handler, as before), and abort it if it has not ended ``close_timeout`` later. A
        full close here would end it before the handler's ``on_disconnect`` hooks start,
        and Sanic's cancel would be lost in the one the peer's Close makes."""
        io_proto = cast(SanicProtocol, self.io_proto)
        transport = io_proto.transport
        if transport is None or transport.is_closing():
            return
        if not transport.can_write_eof():  # TLS
            SanicProtocol.close(io_proto, timeout=1.0)
            return
        transport.write_eof()
        assert self.loop is not None  # set by connection_made
        self._abort_timer = self.loop.call_later(self.close_timeout, transport.abort)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)  # type: ignore[no-untyped-call]
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None


def _upgrading_wsns_route() -> bool:
    """Whether the upgrade in progress is to a route of sanic-wsns that reads its frames."""
    try:
        route = Request.get_current().route
    except ServerError:  # outside a request
        return False
    return route is not None and getattr(route.ctx, "wsns", False) is True


def slim_upgrades() -> None:
    """Have Sanic build every upgrade's WebSocket as a ``SlimWebsocket`` (its handshake
    reads the name ``WebsocketImplProtocol`` from its module at each upgrade). Once per
    process; it changes nothing for a route that is not sanic-wsns's. Another class in
    its place (another library's) is left there: that costs memory, not correctness."""
    current = websocket_protocol.WebsocketImplProtocol  # type: ignore[attr-defined]
    if current is WebsocketImplProtocol:
        websocket_protocol.WebsocketImplProtocol = SlimWebsocket  # type: ignore[attr-defined]
