"""The reserved ``refresh`` request (wire protocol v1.2): a fresh token before expiry.

The client sends ``{"type": "refresh", "data": {"token": ...}, "id": N}`` before its
``welcome.data.expires_in`` runs out; the pattern's refresh hook (else ``authorize``)
judges the token (``admission.renew``). Accepted: the reply is ``{"expires_in": s}``
(``null``: no expiry any more) and the connection's deadline moves. Refused: the
connection is closed with 4001, so the client reconnects once with a fresh token, and a
token the server refuses at that upgrade stops it for good (4401): no loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .admission import Refusal, close_reason, renew
from .errors import CloseCode, ErrorCode
from .expiry import ExpirySweep, expires_in
from .protocol import Incoming, encode, encode_error

if TYPE_CHECKING:
    from .client import Client
    from .namespace import Namespace


class RefreshData(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class Refreshed(msgspec.Struct):
    expires_in: float | None


_decode = msgspec.json.Decoder(RefreshData).decode


async def refresh(expiries: ExpirySweep, ns: Namespace, client: Client, incoming: Incoming) -> bytes | None:
    """Judge one ``refresh`` request: its answer to send, or ``None`` when the connection
    was closed instead. One that expired while the hook ran stays closed: its answer
    goes nowhere, and its deadline goes when it leaves (after this, ``HandlerQueue``)."""
    if incoming.id is None:
        return encode_error(ErrorCode.INVALID_MESSAGE, "refresh is a request: give it an id")
    try:
        token = _decode(incoming.data).token
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return encode_error(ErrorCode.INVALID_DATA, f"refresh: {exc}", id=incoming.id)
    verdict = await renew(ns.pattern, client.request, ns.params, token, client.user)
    if isinstance(verdict, Refusal):
        client.abort(CloseCode.EXPIRED, close_reason(f"refresh refused: {verdict.reason}"))
        expiries.count("refresh_refused")
        return None
    client.expires_at = verdict
    expiries.watch(client, verdict)
    return encode("reply", Refreshed(None if verdict is None else expires_in(verdict)), incoming.id)
