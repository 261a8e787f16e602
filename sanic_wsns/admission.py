"""Admission: the verdict on an upgrade before its handshake, and what it is made of.

``admit`` runs the checks in order (origin, path parameters, the app's authorize hook)
and returns an ``Admission`` or a ``Refusal``; the extension reads the Sanic request at
the edge and hands over plain values, so only the app's hook ever sees the request.
A refused upgrade never creates a namespace and never counts as a client.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .config import Settings
from .errors import CloseCode, Denied
from .limits import TokenBucket
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
    #: When the grant ends (unix seconds; ``Identity.expires_at``), or never.
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """The upgrade is refused: the handshake completes only to close with ``code``, so a
    browser (which cannot read an HTTP status) learns why."""

    code: int
    reason: str

    @property
    def name(self) -> str:
        return REFUSAL_NAMES.get(self.code, str(self.code))


def try_later(reason: str, wait: float) -> Refusal:
    """A 1013 whose reason ends with the machine-readable hint ``; retry_after=N`` (whole
    seconds, rounded up): both clients wait at least N s, plus their jitter, before the next
    attempt (docs/protocol.md), so a storm refused here comes back spread out rather than
    at the next backoff step. A client that knows no hint reads a 1013 and backs off."""
    return Refusal(CloseCode.TRY_AGAIN_LATER, f"{reason}; retry_after={math.ceil(wait)}")


def refuses(answer: Any) -> bool:
    """What ``authorize``'s answer means: ``False`` refuses, as python-socketio's connect
    handler does; anything else admits, ``None`` included (with no identity). A hook that
    says no by returning ``False`` must never let the client in with ``False`` as its
    identity. (The stats guard refuses every false answer: it has no anonymous to admit.)"""
    return answer is False


#: The longest close reason, in bytes of UTF-8: a close frame's payload is at most 125
#: bytes (RFC 6455, 5.5), two of them the code.
MAX_CLOSE_REASON = 123


def close_reason(reason: str) -> str:
    """``reason`` cut (with ``...``) to what a close frame can carry."""
    encoded = reason.encode()
    if len(encoded) > MAX_CLOSE_REASON:
        reason = encoded[:MAX_CLOSE_REASON - 3].decode(errors="ignore") + "..."
    return reason


def unmatched(patterns: Sequence[str]) -> Refusal:
    """The refusal of an upgrade no pattern matches: 1008, final for the browser client,
    with the declared patterns (as many as fit) so the developer sees the right path."""
    reason = "no namespace pattern matches; declared: " + (", ".join(patterns) or "none")
    return Refusal(CloseCode.POLICY_VIOLATION, close_reason(reason))


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
    if not isinstance(identity, Identity):
        return Admission(pattern, path, decoded, identity, None, identity)
    if _expired(identity):
        return Refusal(CloseCode.UNAUTHENTICATED, "expired")
    return Admission(pattern, path, decoded, identity.value, identity.public, user_of(identity),
                     identity.expires_at)


def user_of(identity: Identity) -> Any:
    """Who the connection belongs to: ``Identity.user``, else its value."""
    return identity.value if identity.user is None else identity.user


def _expired(identity: Identity) -> bool:
    return identity.expires_at is not None and identity.expires_at <= time.time()


async def renew(pattern: Pattern, request: Any, params: Mapping[str, Any], token: str,
                user: Any) -> float | Refusal | None:
    """Judge a ``refresh``: ``pattern``'s refresh hook (else its authorize hook) runs
    with ``request.ctx.wsns_token`` replaced by ``token``. The new ``expires_at``
    (``None``: never), or why it is refused: a denial, ``False``, an identity already
    expired, or one that names another ``user`` (a refresh extends a grant, it never
    changes whose it is)."""
    hook = pattern.refresher or pattern.authorizer
    request.ctx.wsns_token = token
    if hook is None:
        return None
    try:
        answer = await call(hook, request, **params)
    except Denied as exc:
        return Refusal(exc.close_code, exc.message)
    except Exception:
        logger.exception("refresh hook failed path=%s", pattern.path(params))
        return Refusal(CloseCode.INTERNAL_ERROR, "internal error")
    if refuses(answer):
        return Refusal(CloseCode.FORBIDDEN, "forbidden")
    identity = answer if isinstance(answer, Identity) else Identity(answer)
    if user_of(identity) != user:
        return Refusal(CloseCode.FORBIDDEN, "the token names another user")
    if _expired(identity):
        return Refusal(CloseCode.UNAUTHENTICATED, "expired")
    return identity.expires_at


class ConnectRate:
    """Connection opens per user: a token bucket each (``rate`` per second, bursts of
    ``burst``), so one user cannot churn connections (every open may cost the app a
    snapshot) faster than it could fetch pages. Users are what authorize returned
    (``Identity.user``); ``None`` and unhashable users are not limited.

    The buckets are bounded: past ``max_users`` the ones idle long enough to be full again
    go first (forgetting them changes nothing), then the least recently used.
    """

    __slots__ = ("rate", "burst", "max_users", "abuse", "_buckets")

    def __init__(self, rate: float | None, burst: int, max_users: int = 100_000,
                 abuse: tuple[int, float] = (1000, 10.0)):
        self.rate = rate
        self.burst = burst
        self.max_users = max_users
        #: A bucket's ``abuse_limit`` and ``abuse_window`` (``TokenBucket.abusive``).
        self.abuse = abuse
        self._buckets: dict[Hashable, TokenBucket] = {}

    def allow(self, user: object, now: float) -> float | None:
        """``None`` if ``user`` may open a connection now (counted), else the seconds to
        wait before the next one would be allowed."""
        bucket = self.bucket(user, now)
        if bucket is None:
            return None
        return None if bucket.take(now) else bucket.retry_after()

    def bucket(self, user: object, now: float) -> TokenBucket | None:
        """``user``'s bucket (``None``: not limited); the POSTs of SSE clients spend from
        one per client id (``sse_post.py``), on whichever instance receives them."""
        if self.rate is None or user is None or not isinstance(user, Hashable):
            return None
        try:
            bucket = self._buckets.pop(user)
        except KeyError:
            bucket = TokenBucket(self.rate, self.burst, now, *self.abuse)
        except TypeError:  # hashable by type, not by value (a tuple holding a list)
            return None
        self._buckets[user] = bucket  # most recently used last
        if len(self._buckets) > self.max_users:
            self._forget(now)
        return bucket

    def _forget(self, now: float) -> None:
        assert self.rate is not None
        full_after = self.burst / self.rate
        for user, bucket in list(self._buckets.items()):
            if now - bucket.stamp >= full_after:
                del self._buckets[user]
        while len(self._buckets) > self.max_users:
            del self._buckets[next(iter(self._buckets))]

    def __len__(self) -> int:
        return len(self._buckets)
