"""One connection's life: admit, welcome, receive and dispatch, leave.

This is where a message goes from the socket to its handler: ``_receive`` reads frames,
``screen`` checks the rate limit, decodes the envelope and answers ``ping``;
``HandlerQueue`` runs ``handle`` for each remaining message in order, which decodes
``data`` into the handler's type, calls the handler and answers requests exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from .client import Client
from .errors import CloseCode, Denied, ErrorCode, InvalidMessage, WsnsError
from .limits import TokenBucket
from .namespace import Namespace
from .pattern import Pattern, call
from .protocol import (
    PING,
    Incoming,
    decode_incoming,
    encode,
    encode_error,
    encode_internal_error,
    ws_text_frame,
)

if TYPE_CHECKING:
    from sanic import Request
    from sanic.server.websockets.impl import WebsocketImplProtocol

    from .extension import WsNamespaces

logger = logging.getLogger("sanic_wsns")


@dataclass(frozen=True, slots=True)
class Admission:
    """The authorize hook said yes: who the client is and which namespace it joins."""

    pattern: Pattern
    path: str
    params: dict[str, Any]
    identity: Any
    public: Any


@dataclass(frozen=True, slots=True)
class Refusal:
    """The upgrade is refused: the handshake completes only to close with ``code``, so a
    browser (which cannot read an HTTP status) learns why."""

    code: int
    reason: str


async def serve(wsns: WsNamespaces, request: Request, ws: WebsocketImplProtocol,
                admission: Admission, client_id: str) -> None:
    """Admit the client, then read its frames until the connection ends.

    Each frame is screened as it arrives (rate limit, envelope, ``ping``), so a slow
    handler never delays a ``pong`` (the browser's heartbeat would call a live connection
    dead) nor lets a flood go unnoticed; handlers run one at a time, in arrival order,
    from the client's ``HandlerQueue``. The read loop lives here rather than in a helper
    coroutine: one frame fewer held by every idle connection (bench W3).
    """
    settings = wsns.settings
    pattern = admission.pattern
    ws.ws_proto.max_message_size = settings.max_frame_size
    ns = await wsns.host(pattern, admission.path, admission.params)
    if ns is None:
        await ws.close(CloseCode.TRY_AGAIN_LATER, "too many namespaces on this instance")
        return
    now = ws.loop.time()
    bucket = TokenBucket(settings.rate_limit, settings.rate_burst, now,
                         settings.abuse_limit, settings.abuse_window)
    client = Client(client_id, ns, ws, request, admission.identity, admission.public,
                    bucket, settings.max_send_queue)
    # Welcome and admission happen in one step, so no broadcast can precede the welcome.
    client.write(ws_text_frame(wsns.welcome(ns, client)))
    ns.clients[client.id] = client
    queue = HandlerQueue(wsns, ns, client)
    try:
        if not await _run_connect_hooks(ns, client):
            return
        while client.open:
            try:
                message = await ws.recv()
            except (ConnectionClosed, WebsocketClosed):
                return
            if message is None:  # the receiver was shut down
                return
            ns.counters.messages_in += 1
            incoming = screen(ns, client, message)
            if incoming is not None:
                queue.put(incoming)
    finally:
        await queue.close()


async def _run_connect_hooks(ns: Namespace, client: Client) -> bool:
    try:
        for hook in ns.pattern.connect_hooks:
            await call(hook, ns, client)
    except Denied as exc:
        await client.close(exc.close_code, exc.message)
        return False
    except Exception:
        logger.exception("on_connect failed path=%s client=%s", ns.path, client.id)
        await client.close(CloseCode.INTERNAL_ERROR, "internal error")
        return False
    return True


class HandlerQueue:
    """One client's pending requests and the task running them, which exists only while
    there is work: an idle connection costs no task beyond its reader.

    When the connection ends, requests not started are dropped (nobody could receive
    their replies) but the one running completes, so its side effects are whole; the
    client leaves its namespace (``wsns.leave``) only after that. Whichever of the reader
    and the worker finishes last makes it leave: Sanic cancels the reader's task when the
    TCP connection is lost, so the reader cannot be the one that waits.
    """

    __slots__ = ("_wsns", "_ns", "_client", "_pending", "_worker", "_closed")

    def __init__(self, wsns: WsNamespaces, ns: Namespace, client: Client):
        self._wsns = wsns
        self._ns = ns
        self._client = client
        # Created on first use: an empty deque already holds a 64-slot block (~0.75 KiB),
        # which for an idle connection was the largest thing sanic-wsns added over raw
        # Sanic (bench W3, RSS per idle connection).
        self._pending: deque[Incoming] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def put(self, incoming: Incoming) -> None:
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        if len(pending) >= self._client.bucket.burst:
            self._ns.counters.drop("backlog_full")
            _answer(self._ns, self._client, encode_error(
                ErrorCode.RATE_LIMITED, "too many messages waiting for their handlers",
                {"retry_after": 1.0}, incoming.id))
            return
        pending.append(incoming)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def close(self) -> None:
        """The reader is done: leave now, or let the running handler's task leave after it."""
        self._closed = True
        if self._pending is not None:
            self._pending.clear()
        if self._worker is None:
            await self._wsns.leave(self._ns, self._client)

    async def _drain(self) -> None:
        pending = self._pending
        assert pending is not None  # put() created it before starting this task
        try:
            while pending:
                await handle(self._ns, self._client, pending.popleft())
        finally:
            self._worker = None
            if self._closed:
                await self._wsns.leave(self._ns, self._client)


def screen(ns: Namespace, client: Client, message: str | bytes) -> Incoming | None:
    """Rate-limit and decode one frame, answer what needs no handler; return the rest."""
    allowed = client.bucket.take(client._ws.loop.time())
    if isinstance(message, bytes):
        if allowed:
            _answer(ns, client, encode_error(ErrorCode.INVALID_MESSAGE, "binary frames are not supported"))
        else:
            _refuse_over_limit(ns, client, None)
        return None
    try:
        incoming = decode_incoming(message)
    except InvalidMessage as exc:
        if allowed:
            _answer(ns, client, encode_error(exc.code, exc.message))
        else:
            _refuse_over_limit(ns, client, None)
        return None
    if not allowed:
        _refuse_over_limit(ns, client, incoming.id)
        return None
    if incoming.type == PING:
        _answer(ns, client, encode("pong", incoming.data, incoming.id))
        return None
    return incoming


async def handle(ns: Namespace, client: Client, incoming: Incoming) -> None:
    """Run the handler for one screened message and answer a request exactly once."""
    handler = ns.pattern.handlers.get(incoming.type)
    if handler is None:
        _answer(ns, client, encode_error(ErrorCode.UNKNOWN_TYPE,
                                         f"no handler for type {incoming.type!r}", id=incoming.id))
        return
    try:
        if handler.takes_data:
            data = handler.decode(incoming.data)
            result = await call(handler.fn, ns, client, data)
        else:
            result = await call(handler.fn, ns, client)
        if incoming.id is not None:
            _answer(ns, client, encode("reply", result, incoming.id))
    except msgspec.ValidationError as exc:
        _answer(ns, client, encode_error(ErrorCode.INVALID_DATA, str(exc), id=incoming.id))
    except WsnsError as exc:
        _answer(ns, client, _encode_wsns_error(exc, incoming.id))
    except Exception:
        logger.exception("handler failed path=%s type=%s client=%s", ns.path, incoming.type, client.id)
        ns.counters.drop("handler_error")
        _answer(ns, client, encode_internal_error(incoming.id))


def _encode_wsns_error(exc: WsnsError, id: int | None) -> bytes:
    try:
        return encode_error(exc.code, exc.message, exc.details, id)
    except TypeError:
        logger.exception("error details are not encodable code=%s", exc.code)
        return encode_internal_error(id)


def _refuse_over_limit(ns: Namespace, client: Client, id: int | None) -> None:
    ns.counters.drop("rate_limited")
    if client.bucket.abusive:
        client.abort(CloseCode.POLICY_VIOLATION, "rate limit exceeded repeatedly")
        return
    retry_after = round(client.bucket.retry_after(), 3)
    _answer(ns, client, encode_error(ErrorCode.RATE_LIMITED, "too many messages; slow down",
                                     {"retry_after": retry_after}, id))


def _answer(ns: Namespace, client: Client, payload: bytes) -> None:
    if client.write(ws_text_frame(payload)):
        ns.counters.messages_out += 1
