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
from typing import TYPE_CHECKING

import msgspec

from .admission import Admission
from .client import Client
from .errors import CloseCode, Denied, ErrorCode, WsnsError
from .idempotency import RequestKeys, request_name, with_id
from .limits import TokenBucket
from .namespace import Namespace
from .pattern import call
from .protocol import (
    REFRESH,
    Incoming,
    encode,
    encode_error,
    encode_internal_error,
)
from .recovery import requested_position
from .refresh import refresh
from .sanic_internals import FrameSink, deflate_agreed, take_frames, until_closed
from .screening import Answer, screen

if TYPE_CHECKING:
    from sanic import Request
    from sanic.server.websockets.impl import WebsocketImplProtocol

    from .hub import Hub

logger = logging.getLogger("sanic_wsns")


async def serve(hub: Hub, request: Request, ws: WebsocketImplProtocol, admission: Admission) -> None:
    """Admit the client, then screen its messages as they arrive until the peer closes.

    A slow handler never delays a ``pong`` (the browser's heartbeat would call a live
    connection dead) nor lets a flood go unnoticed: Sanic hands each message to
    ``HandlerQueue.receive`` (``sanic_internals.FrameSink``), which screens it at once,
    and handlers run one at a time, in arrival order, from the client's ``HandlerQueue``.
    Meanwhile this coroutine waits on a single future: no reader task, no ``recv()``
    machinery held by every idle connection (bench W3).
    """
    settings = hub.settings
    # Before the first await: no frame has been read yet.
    frames = take_frames(ws, settings.max_fragments, settings.max_send_queue, settings.max_frame_size)
    refusal = hub.claim(admission.user, admission.path)
    if refusal is not None:
        await ws.close(refusal.code, refusal.reason)
        return
    client = await _enter(hub, request, ws, admission, frames)
    if client is None:
        return
    # Joined: from here the queue makes it leave, whatever ends the connection.
    queue = HandlerQueue(hub, client.namespace, client)
    try:
        if not await run_connect_hooks(client.namespace, client):
            return
        frames.start(queue.receive)
        await until_closed(ws)
    finally:
        await queue.close()


async def _enter(hub: Hub, request: Request, ws: WebsocketImplProtocol,
                 admission: Admission, frames: FrameSink) -> Client | None:
    """Host the namespace and join it: the joined client, or ``None`` (closed already).

    Every way out before the join ends (no room on this instance, a failure, or Sanic
    cancelling the handler because the TCP connection dropped, as a reset right after
    the 101 does) goes through ``hub.abandon``: the slot is given back, the client is
    not left in presence, and an empty namespace is dropped."""
    client: Client | None = None
    joined = False
    try:
        ns = await hub.host(admission.pattern, admission.path, admission.params)
        if ns is None:
            await ws.close(CloseCode.TRY_AGAIN_LATER, "too many namespaces on this instance")
            return None
        settings = hub.settings
        bucket = TokenBucket(settings.rate_limit, settings.rate_burst, asyncio.get_running_loop().time(),
                             settings.abuse_limit, settings.abuse_window)
        deflater = hub.deflater if hub.deflater is not None and deflate_agreed(ws) else None
        frames.stop_sanic_keepalive()  # the shared KeepaliveSweep pings the client from now on
        client = Client(hub.next_client_id(), ns, frames, request, admission.identity, admission.public,
                        bucket, settings.max_send_queue, admission.user, admission.expires_at, deflater)
        frames.on_end(client.ended)  # before its welcome: nothing is written after a Close
        if admission.pattern.history is not None:
            args = request.args
            await hub.join(ns, client, *requested_position(args.get("since"), args.get("epoch")))
        else:
            await hub.join(ns, client)
        joined = True
        return client
    finally:
        if not joined:
            hub.abandon(admission.path, admission.user, client)


async def run_connect_hooks(ns: Namespace, client: Client) -> bool:
    """Run the pattern's ``on_connect`` hooks; ``False`` when one refused or failed (the
    client is closed then)."""
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
    """One client's incoming messages, screened as they arrive, and the task running
    their handlers, which exists only while there is work: an idle connection costs no
    task beyond the one ``serve`` waits in.

    When the connection ends, requests not started are dropped (nobody could receive
    their replies) but the one running completes, so its side effects are whole; the
    client leaves its namespace (``hub.leave``) only after that. Whichever of ``serve``
    and the worker finishes last makes it leave: Sanic cancels ``serve``'s task when the
    TCP connection is lost, so ``serve`` cannot be the one that waits.
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

    def receive(self, message: str | bytes) -> None:
        """Screen one message the moment it arrives (rate limit, envelope, ``ping``), then
        queue it for its handler, answer it, or close an abusive client. (Once the
        connection is closing, ``FrameSink`` hands nothing on.)"""
        ns, client = self._ns, self._client
        if self._closed:
            return
        counters = ns.counters
        counters.messages_in += 1
        screened = screen(message, client.bucket, asyncio.get_running_loop().time())
        if type(screened) is Incoming:
            self.put(screened)
        elif type(screened) is Answer:
            if screened.dropped is not None:
                counters.drop(screened.dropped)
            client.write_own(screened.payload)
        else:
            counters.drop(screened.dropped)
            client.abort(screened.code, screened.reason)

    def put(self, incoming: Incoming) -> None:
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        if len(pending) >= self._client.bucket.burst:
            self._ns.counters.drop("backlog_full")
            self._client.write_own(encode_error(
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
                incoming = pending.popleft()
                if incoming.type == REFRESH:
                    answer = await refresh(self._hub.expiries, self._ns, self._client, incoming)
                    if answer is not None:
                        self._client.write_own(answer)
                else:
                    await handle(self._ns, self._client, incoming, self._hub.requests)
                # Messages are screened and queued as they arrive, a whole burst at once:
                # yield between two of them, so one client's burst never holds the loop
                # (and every other connection's reads and writes) for its whole length.
                await asyncio.sleep(0)
        finally:
            self._worker = None
            if self._closed:
                await self._hub.leave(self._ns, self._client)


async def handle(ns: Namespace, client: Client, incoming: Incoming, keys: RequestKeys) -> None:
    """Run the handler for one screened message and answer a request exactly once."""
    answer = await answer_to(ns, client, incoming, keys)
    if answer is not None:
        client.write_own(answer)


async def answer_to(ns: Namespace, client: Client, incoming: Incoming, keys: RequestKeys) -> bytes | None:
    """Run the handler for one screened message: its answer (``None``: a fire-and-forget
    message that succeeded). A keyed request's handler runs at most once per (namespace,
    user, key) within the window (``idempotency.py``): a repeat gets the first answer.
    (A POST puts the answer in its response: ``sse_post.py``.)"""
    if incoming.key is None:
        return await _outcome(ns, client, incoming, incoming.id)
    assert incoming.id is not None  # screening refuses a key without an id
    name = request_name(client.user, incoming.key)
    kept = await keys.once(ns.path, name, lambda: _kept_outcome(ns, client, incoming))
    return with_id(kept, incoming.id)


async def _kept_outcome(ns: Namespace, client: Client, incoming: Incoming) -> bytes:
    """The answer to keep for a keyed request: encoded without its ``id`` (a repeat has its own)."""
    answer = await _outcome(ns, client, incoming, None)
    assert answer is not None  # a keyed message is a request: it always has an answer
    return answer


async def _outcome(ns: Namespace, client: Client, incoming: Incoming, id: int | None) -> bytes | None:
    """Run the handler for one screened message: the answer to send (encoded with ``id``),
    or ``None`` for a fire-and-forget message that succeeded."""
    handler = ns.pattern.handlers.get(incoming.type)
    if handler is None:
        return encode_error(ErrorCode.UNKNOWN_TYPE, f"no handler for type {incoming.type!r}", id=id)
    try:
        if handler.takes_data:
            data = handler.decode(incoming.data)
            result = await call(handler.fn, ns, client, data)
        else:
            result = await call(handler.fn, ns, client)
        if incoming.id is not None:
            return encode("reply", result, id)
    except msgspec.ValidationError as exc:
        return encode_error(ErrorCode.INVALID_DATA, str(exc), id=id)
    except WsnsError as exc:
        return _encode_wsns_error(exc, id)
    except Exception:
        logger.exception("handler failed path=%s type=%s client=%s", ns.path, incoming.type, client.id)
        ns.counters.drop("handler_error")
        return encode_internal_error(id)
    return None


def _encode_wsns_error(exc: WsnsError, id: int | None) -> bytes:
    try:
        return encode_error(exc.code, exc.message, exc.details, id)
    except TypeError:
        logger.exception("error details are not encodable code=%s", exc.code)
        return encode_internal_error(id)
