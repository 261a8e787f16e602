"""The SSE stream of one client (core idea 13): a ``Client`` whose frames are events.

``stream`` runs one ``GET {sse_prefix}{path}`` that passed admission: it claims a slot,
hosts the namespace, joins it as any WebSocket client does (welcome first, recovery from
``Last-Event-ID`` or ``since``/``epoch``, presence) and then waits for the stream's end,
its ``: ping`` comments written by the hub's one ``keepalive.HeartbeatSweep``. Its
``Client`` is any client over an ``EventStream`` (the ``ClientSocket`` of a stream): the
hub writes it the same ready WebSocket frames as every other client, and its
``EventWriter`` writes them as events (``sse.FrameEvents``) straight into the response's
transport, in HTTP/1.1 chunks, under the same send-queue bound: a stream that does not
read is cut (1013), never slows a broadcast. Whatever closes a WebSocket ends a stream,
after an ``event: close`` with the code and reason; a retryable code (1001, 1012, 1013)
lets the ``EventSource`` resume with ``Last-Event-ID``, a final one (44xx) tells the
client to stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sanic.response import HTTPResponse, json

from .admission import Admission, Refusal
from .client import Client
from .connection import run_connect_hooks
from .errors import CloseCode
from .limits import TokenBucket
from .protocol import encode
from .recovery import requested_position
from .sanic_internals import slim_stream
from .sse import OPENING, PING, FrameEvents, chunk, event, requested

if TYPE_CHECKING:
    from sanic import Request

    from .client_tokens import ClientTokens
    from .hub import Hub
    from .namespace import Namespace

#: Seconds between ``: ping`` comments when no heartbeat interval is set (Sanic's
#: ``WEBSOCKET_PING_INTERVAL`` is 0): a stream must still outlive ``RESPONSE_TIMEOUT``.
DEFAULT_PING = 15.0
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx buffers proxied responses by default: an event would wait for the buffer.
    "X-Accel-Buffering": "no",
}
#: The HTTP status of each refusal (the WebSocket closes with the code instead).
REFUSAL_STATUS = {
    CloseCode.UNAUTHENTICATED: 401,
    CloseCode.EXPIRED: 401,
    CloseCode.FORBIDDEN: 403,
    CloseCode.NOT_FOUND: 404,
    CloseCode.POLICY_VIOLATION: 400,
    CloseCode.TRY_AGAIN_LATER: 503,
}
#: A ``: ping`` comment as the chunk the stream writes.
PING_CHUNK = chunk(PING)
#: How a refusal's code is named in its JSON answer (``Refusal.name`` for the others).
REFUSAL_CODES = {CloseCode.UNAUTHENTICATED: "unauthenticated", CloseCode.EXPIRED: "expired",
                 CloseCode.INTERNAL_ERROR: "internal"}


def refused(refusal: Refusal) -> HTTPResponse:
    """A refusal as an HTTP answer, ``{"code", "message"}`` (an ``EventSource`` does not
    retry after one); over capacity says when to try again."""
    status = REFUSAL_STATUS.get(refusal.code, 500)
    headers = {"Retry-After": "1"} if status == 503 else None
    return json({"code": REFUSAL_CODES.get(refusal.code, refusal.name), "message": refusal.reason},
                status=status, headers=headers)


class EventStream:
    """The ``ClientSocket`` of one SSE stream: its ``Client`` writes WebSocket frames into
    ``transport``, an ``EventWriter`` that writes them as events on the response; a close
    is an ``event: close`` with the code, then the end of the response. ``ended`` is
    resolved then: ``stream`` waits on it, and on nothing else, while the stream is idle."""

    kind = "sse"

    __slots__ = ("transport", "ended", "_response", "_sent_code")

    def __init__(self, response: asyncio.WriteTransport, token: str):
        self.transport = EventWriter(response, token)
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._response = response
        self._sent_code: int | None = None

    def is_open(self) -> bool:
        return self._sent_code is None

    def close_code_sent(self) -> int | None:
        return self._sent_code

    def awaiting_pong(self, payload: bytes) -> bool:
        return False

    def ping(self, payload: bytes) -> None:
        """Nothing: the stream's ``: ping`` comments keep their own period (``beat``)."""

    def beat(self) -> None:
        """Write a ``: ping`` comment (``keepalive.HeartbeatSweep``), unless bytes still
        wait to be sent: the stream is not idle then, and a peer that stopped reading
        gets no pile of pings (what it does not read is bounded by the send queue)."""
        response = self._response
        if self._sent_code is None and not response.is_closing() and not response.get_write_buffer_size():
            response.write(PING_CHUNK)

    async def close(self, code: int, reason: str) -> None:
        self.abort(code, reason)

    def abort(self, code: int, reason: str) -> None:
        """End the stream: ``event: close`` with the code, the last chunk, then the TCP
        connection (Sanic then cancels the stream's task, which leaves the namespace)."""
        if self._sent_code is not None:
            return
        self._sent_code = code
        if not self.ended.done():
            self.ended.set_result(None)
        response = self._response
        if response.is_closing():
            return
        closing = encode("close", {"code": code, "reason": reason})
        response.write(chunk(event("close", closing)) + b"0\r\n\r\n")
        response.close()


class EventWriter:
    """Frames written as events (``sse.FrameEvents``) into the response's transport, in
    HTTP/1.1 chunks. The transport's own ``is_closing``, ``get_write_buffer_size`` and
    ``abort`` are taken as they are, so a stream's write costs no call more than a
    WebSocket's besides making its event (shared by every stream of a broadcast)."""

    __slots__ = ("is_closing", "get_write_buffer_size", "abort", "_write", "_events", "_welcome_extra")

    def __init__(self, response: asyncio.WriteTransport, token: str):
        self.is_closing = response.is_closing
        self.get_write_buffer_size = response.get_write_buffer_size
        self.abort = response.abort
        self._write = response.write
        self._events = FrameEvents()
        #: The first frame is the welcome: it carries the token the POSTs give back.
        self._welcome_extra: dict[str, Any] | None = {"client_token": token}

    def write(self, data: bytes) -> None:
        self._write(self._events.chunk(data, self._welcome_extra))
        self._welcome_extra = None  # written: an idle stream keeps no dict for it

    def writelines(self, data: list[bytes]) -> None:
        """The frames' events joined into one write."""
        chunks = []
        for frame in data:
            chunks.append(self._events.chunk(frame, self._welcome_extra))
            self._welcome_extra = None
        self._write(b"".join(chunks))


async def stream(hub: Hub, request: Request, admission: Admission, tokens: ClientTokens,
                 ping_every: float, headers: Mapping[str, str]) -> HTTPResponse | None:
    """Serve one admitted stream until it ends (``None``: the response was streamed, with
    ``headers`` besides its own: CORS), or answer why it cannot start."""
    refusal = hub.claim(admission.user, admission.path)
    if refusal is not None:
        return refused(refusal)
    client: Client | None = None
    joined = False
    try:
        ns = await hub.host(admission.pattern, admission.path, admission.params)
        if ns is None:
            return refused(Refusal(CloseCode.TRY_AGAIN_LATER, "too many namespaces on this instance"))
        response = await request.respond(headers={**STREAM_HEADERS, **headers},
                                         content_type="text/event-stream")
        await response.send(OPENING)
        client_id = hub.next_client_id()
        events = EventStream(cast(asyncio.WriteTransport, request.transport),
                             tokens.sign(admission.path, client_id, admission.user))
        client = _new_client(hub, ns, request, admission, client_id, events)
        await _join(hub, ns, client, request)
        joined = True
    finally:
        if not joined:  # refused for capacity, failed, or cancelled: give everything back
            hub.abandon(admission.path, admission.user, client)
    try:
        if await run_connect_hooks(ns, client):
            # Idle from here until the stream ends (its ``close``, or Sanic cancelling the
            # handler when the TCP connection is lost), pinged by the hub's one sweep: no
            # task, timer or coroutine of its own besides this handler (bench sse_vs_ws:
            # an idle stream costs no more memory than an idle WebSocket).
            slim_stream(request)
            hub.heartbeats.add(events, ping_every)
            await events.ended
    finally:
        hub.heartbeats.discard(events)
        await hub.leave(ns, client)
    return None


def _new_client(hub: Hub, ns: Namespace, request: Request, admission: Admission, client_id: str,
                events: EventStream) -> Client:
    settings = hub.settings
    # The stream reads nothing: its client's messages come as POSTs, each spending from a
    # bucket per client id on the instance that receives it (sse_post.py).
    bucket = TokenBucket(settings.rate_limit, settings.rate_burst, 0.0)
    return Client(client_id, ns, events, request, admission.identity, admission.public, bucket,
                  settings.max_send_queue, admission.user, admission.expires_at)


async def _join(hub: Hub, ns: Namespace, client: Client, request: Request) -> None:
    """Join as a WebSocket client does; a history namespace first reads where the client
    left off: ``Last-Event-ID`` (what an ``EventSource`` resends), else ``since``/``epoch``."""
    if ns.pattern.history is None:
        await hub.join(ns, client)
        return
    args = request.args
    asked = requested(request.headers.get("last-event-id"), args.get("since"), args.get("epoch"))
    await hub.join(ns, client, *requested_position(*asked))
