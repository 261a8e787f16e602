"""One connection's life: admit, welcome, receive and dispatch, leave.

This is where a message goes from the socket to its handler: ``serve`` reads frames,
``dispatch`` checks the rate limit, decodes the envelope, decodes ``data`` into the
handler's type, calls the handler and answers requests exactly once.
"""

from __future__ import annotations

import logging
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
from .protocol import PING, decode_incoming, encode, encode_error, encode_internal_error, ws_text_frame

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
    try:
        if await _run_connect_hooks(ns, client):
            await _receive(ns, client, ws)
    finally:
        await wsns.leave(ns, client)


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


async def _receive(ns: Namespace, client: Client, ws: WebsocketImplProtocol) -> None:
    while True:
        try:
            message = await ws.recv()
        except (ConnectionClosed, WebsocketClosed):
            return
        if message is None:  # the receiver was shut down
            return
        ns.counters.messages_in += 1
        await dispatch(ns, client, message)
        if not client.open:
            return


async def dispatch(ns: Namespace, client: Client, message: str | bytes) -> None:
    """Handle one client frame; every outcome the client must know of is a frame."""
    allowed = client.bucket.take(client._ws.loop.time())
    if isinstance(message, bytes):
        if allowed:
            _answer(ns, client, encode_error(ErrorCode.INVALID_MESSAGE, "binary frames are not supported"))
        else:
            _refuse_over_limit(ns, client, None)
        return
    try:
        incoming = decode_incoming(message)
    except InvalidMessage as exc:
        if allowed:
            _answer(ns, client, encode_error(exc.code, exc.message))
        else:
            _refuse_over_limit(ns, client, None)
        return
    if not allowed:
        _refuse_over_limit(ns, client, incoming.id)
        return
    if incoming.type == PING:
        _answer(ns, client, encode("pong", incoming.data, incoming.id))
        return
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
    except msgspec.DecodeError as exc:  # only possible for a Raw that is not JSON: defensive
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
