"""One connection's life: admit, welcome, receive and dispatch, leave.

This is where a message goes from the socket to its handler: ``serve`` reads frames and
has each one screened (``screening.screen``: rate limit, envelope, ``ping``) as it
arrives; ``HandlerQueue`` runs ``handle`` for each remaining message in order, which
decodes ``data`` into the handler's type, calls the handler and answers requests
exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

import msgspec
from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from .admission import Admission
from .client import Client
from .errors import CloseCode, Denied, ErrorCode, WsnsError
from .limits import TokenBucket
from .namespace import Namespace
from .pattern import call
from .protocol import (
    Incoming,
    encode,
    encode_error,
    encode_internal_error,
    ws_text_frame,
)
from .recovery import requested_position
from .screening import Answer, screen

if TYPE_CHECKING:
    from sanic import Request
    from sanic.server.websockets.impl import WebsocketImplProtocol

    from .hub import Hub

logger = logging.getLogger("sanic_wsns")


async def serve(hub: Hub, request: Request, ws: WebsocketImplProtocol, admission: Admission) -> None:
    """Admit the client, then read its frames until the connection ends.

    A slow handler never delays a ``pong`` (the browser's heartbeat would call a live
    connection dead) nor lets a flood go unnoticed: frames are screened as they arrive,
    and handlers run one at a time, in arrival order, from the client's ``HandlerQueue``.
    The read loop lives here rather than in a helper coroutine: one frame fewer held by
    every idle connection (bench W3).
    """
    settings = hub.settings
    ws.ws_proto.max_message_size = settings.max_frame_size
    refusal = hub.claim(admission.user)
    if refusal is not None:
        await ws.close(refusal.code, refusal.reason)
        return
    ns = await hub.host(admission.pattern, admission.path, admission.params)
    if ns is None:
        hub.unclaim(admission.user)
        await ws.close(CloseCode.TRY_AGAIN_LATER, "too many namespaces on this instance")
        return
    clock = cast(asyncio.AbstractEventLoop, ws.loop).time  # set when the connection opened
    bucket = TokenBucket(settings.rate_limit, settings.rate_burst, clock(),
                         settings.abuse_limit, settings.abuse_window)
    client = Client(hub.next_client_id(), ns, ws, request, admission.identity, admission.public,
                    bucket, settings.max_send_queue, admission.user)
    if admission.pattern.history is not None:
        args = request.args
        await hub.join(ns, client, *requested_position(args.get("since"), args.get("epoch")))
    else:
        await hub.join(ns, client)
    queue = HandlerQueue(hub, ns, client)
    counters = ns.counters
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
            counters.messages_in += 1
            screened = screen(message, bucket, clock())
            if type(screened) is Incoming:
                queue.put(screened)
            elif type(screened) is Answer:
                if screened.dropped is not None:
                    counters.drop(screened.dropped)
                _answer(ns, client, screened.payload)
            else:
                counters.drop(screened.dropped)
                client.abort(screened.code, screened.reason)
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
    client leaves its namespace (``hub.leave``) only after that. Whichever of the reader
    and the worker finishes last makes it leave: Sanic cancels the reader's task when the
    TCP connection is lost, so the reader cannot be the one that waits.
    """

    __slots__ = ("_hub", "_ns", "_client", "_pending", "_worker", "_closed")

    def __init__(self, hub: Hub, ns: Namespace, client: Client):
        self._hub = hub
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
            await self._hub.leave(self._ns, self._client)

    async def _drain(self) -> None:
        pending = self._pending
        assert pending is not None  # put() created it before starting this task
        try:
            while pending:
                await handle(self._ns, self._client, pending.popleft())
        finally:
            self._worker = None
            if self._closed:
                await self._hub.leave(self._ns, self._client)


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


def _answer(ns: Namespace, client: Client, payload: bytes) -> None:
    if client.write(ws_text_frame(payload)):
        ns.counters.messages_out += 1
