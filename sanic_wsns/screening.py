"""Frame screening: what to do with one client frame before any handler, as a pure function.

Every frame is screened as it arrives (rate limit, envelope, ``ping``), so a slow handler
never delays a ``pong`` nor lets a flood go unnoticed. ``screen`` decides; the connection
applies the decision. The token bucket it spends from is plain arithmetic over the clock
the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from .errors import CloseCode, ErrorCode, InvalidMessage
from .limits import TokenBucket
from .protocol import PING, Incoming, decode_incoming, encode, encode_error

RATE_LIMITED = "rate_limited"


@final  # the connection tells the decisions apart by ``type(...) is``
@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the client with ``payload`` (no handler runs); count a drop as ``dropped``."""

    payload: bytes
    dropped: str | None = None


@final
@dataclass(frozen=True, slots=True)
class Abort:
    """Close the connection now: the client kept going after being told."""

    code: int
    reason: str
    dropped: str = RATE_LIMITED


def screen(message: str | bytes, bucket: TokenBucket, now: float) -> Incoming | Answer | Abort:
    """The decision for one frame: an ``Incoming`` for its handler, or what to do instead.

    The rate limit is spent first, so a flood of malformed frames is limited too; an
    over-limit frame is answered ``rate_limited`` (with its ``id`` when it could be read).
    """
    allowed = bucket.take(now)
    if isinstance(message, bytes):
        if allowed:
            return Answer(encode_error(ErrorCode.INVALID_MESSAGE, "binary frames are not supported"))
        return _over_limit(bucket, None)
    try:
        incoming = decode_incoming(message)
    except InvalidMessage as exc:
        if allowed:
            return Answer(encode_error(exc.code, exc.message))
        return _over_limit(bucket, None)
    if not allowed:
        return _over_limit(bucket, incoming.id)
    if incoming.type == PING:
        return Answer(encode("pong", incoming.data, incoming.id))
    if incoming.key is not None and incoming.id is None:
        return Answer(encode_error(ErrorCode.INVALID_MESSAGE, "a key needs an id: only requests are keyed"))
    return incoming


def _over_limit(bucket: TokenBucket, id: int | None) -> Answer | Abort:
    if bucket.abusive:
        return Abort(CloseCode.POLICY_VIOLATION, "rate limit exceeded repeatedly")
    retry_after = round(bucket.retry_after(), 3)
    return Answer(encode_error(ErrorCode.RATE_LIMITED, "too many messages; slow down",
                               {"retry_after": retry_after}, id), RATE_LIMITED)
