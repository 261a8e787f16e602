"""Admission: the verdict on an upgrade before its handshake, and what it is made of.

``admit`` runs the checks in order (origin, path parameters, the app's authorize hook)
and returns an ``Admission`` or a ``Refusal``; the extension reads the Sanic request at
the edge and hands over plain values, so only the app's hook ever sees the request.
A refused upgrade never creates a namespace and never counts as a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .config import Settings
from .errors import CloseCode, Denied
from .origins import origin_allowed
from .pattern import Identity, Pattern, call

logger = logging.getLogger("sanic_wsns")

#: How ``stats()["totals"]["connections_refused"]`` names each refusal's close code.
REFUSAL_NAMES = {
    CloseCode.UNAUTHENTICATED: "unauthenticated",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.NOT_FOUND: "not_found",
    CloseCode.POLICY_VIOLATION: "bad_request",
    CloseCode.INTERNAL_ERROR: "error",
    CloseCode.TRY_AGAIN_LATER: "over_capacity",
}


@dataclass(frozen=True, slots=True)
class Admission:
    """The upgrade may proceed: who the client is and which namespace it joins."""

    pattern: Pattern
    path: str
    params: dict[str, Any]
    identity: Any
    public: Any
    #: What the per-identity connection cap counts: ``Identity.user``, else the identity.
    user: Any


@dataclass(frozen=True, slots=True)
class Refusal:
    """The upgrade is refused: the handshake completes only to close with ``code``, so a
    browser (which cannot read an HTTP status) learns why."""

    code: int
    reason: str

    @property
    def name(self) -> str:
        return REFUSAL_NAMES.get(self.code, str(self.code))


def refuses(answer: Any) -> bool:
    """The one rule for what a guard hook's answer means (``authorize``, the stats guard):
    ``False`` refuses, as python-socketio's connect handler does; anything else admits,
    ``None`` included (``authorize``: admitted with no identity). A hook that says no by
    returning ``False`` must never let the client in with ``False`` as its identity."""
    return answer is False


#: The longest close reason, in bytes of UTF-8: a close frame's payload is at most 125
#: bytes (RFC 6455, 5.5), two of them the code.
MAX_CLOSE_REASON = 123


def unmatched(patterns: Sequence[str]) -> Refusal:
    """The refusal of an upgrade no pattern matches: 1008, final for the browser client,
    with the declared patterns (as many as fit) so the developer sees the right path."""
    reason = "no namespace pattern matches; declared: " + (", ".join(patterns) or "none")
    encoded = reason.encode()
    if len(encoded) > MAX_CLOSE_REASON:
        reason = encoded[:MAX_CLOSE_REASON - 3].decode(errors="ignore") + "..."
    return Refusal(CloseCode.POLICY_VIOLATION, reason)


#: The verdict of a route whose middleware did not run (it always should).
UNJUDGED = Refusal(CloseCode.INTERNAL_ERROR, "upgrade was not authorized")


def check_params(pattern: Pattern, raw: Mapping[str, Any],
                 max_length: int) -> tuple[str, dict[str, Any]] | Refusal:
    """The canonical path and decoded params of a routed upgrade, or why they are refused.

    Sanic hands str params over still percent-encoded; the canonical path (and the broker
    channel) encodes the decoded value once, as ``broadcast(params)`` does.
    """
    params = {k: unquote(v) if isinstance(v, str) else v for k, v in raw.items()}
    if any(len(str(v)) > max_length for v in params.values()):
        return Refusal(CloseCode.POLICY_VIOLATION, "path parameter too long")
    try:
        return pattern.path(params), params
    except ValueError:
        return Refusal(CloseCode.POLICY_VIOLATION, "invalid path parameter")


async def admit(pattern: Pattern, settings: Settings, *, origin: str | None, host: str | None,
                params: Mapping[str, Any], request: Any) -> Admission | Refusal:
    """Judge one upgrade: origin, then path parameters, then ``pattern``'s authorize hook
    (which alone receives ``request``)."""
    if not origin_allowed(origin, host, settings.allowed_origins):
        return Refusal(CloseCode.FORBIDDEN, "origin not allowed")
    checked = check_params(pattern, params, settings.max_param_length)
    if isinstance(checked, Refusal):
        return checked
    path, decoded = checked
    if pattern.authorizer is None:
        return Admission(pattern, path, decoded, None, None, None)
    try:
        identity = await call(pattern.authorizer, request, **decoded)
    except Denied as exc:
        return Refusal(exc.close_code, exc.message)
    except Exception:
        logger.exception("authorize hook failed path=%s", path)
        return Refusal(CloseCode.INTERNAL_ERROR, "internal error")
    if refuses(identity):
        return Refusal(CloseCode.FORBIDDEN, "forbidden: authorize returned False")
    if isinstance(identity, Identity):
        user = identity.value if identity.user is None else identity.user
        return Admission(pattern, path, decoded, identity.value, identity.public, user)
    return Admission(pattern, path, decoded, identity, None, identity)
