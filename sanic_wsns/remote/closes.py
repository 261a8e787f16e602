"""What the end of a connection means for the client, without I/O: the states, why a
namespace stopped, and which close codes are final (wsns.js's rules).

A denial (every 44xx but 4410) stops the client for good with its reason; 4410 (removed),
1000 (a normal close by the server) and 1008 (a policy violation) close it for good; any
other end is retried with backoff, 4001 (expired: the next attempt asks the ``token``
function for a fresh token) included. A 1013 whose reason ends with ``; retry_after=N`` is
retried no earlier than N s (plus the backoff's jitter).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .connection import Ended

DENIALS = {4401: "unauthenticated", 4403: "forbidden", 4404: "not_found"}
FINAL_CLOSES = {1000: "server_closed", 1008: "policy_violation", 4410: "removed"}
TRY_AGAIN_LATER = 1013
#: The server's hint at the end of a 1013's reason (docs/protocol.md): whole seconds.
RETRY_AFTER = re.compile(r"(?:^|; )retry_after=(\d{1,6})$")


class State(enum.StrEnum):
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"
    DENIED = "denied"


@dataclass(frozen=True)
class Ending:
    """Why the namespace stopped (``denied``, ``closed``) or is reconnecting.

    ``reason``: for ``denied`` "unauthenticated" | "forbidden" | "not_found" | "denied";
    for ``closed`` "closed" (by ``close()``) | "removed" (4410) | "server_closed" (1000) |
    "policy_violation" (1008) | "gave_up" | "invalid_url" | "token_failed"; for ``reconnecting``
    "connection_lost" | "heartbeat_timeout" | "connect_timeout" | "query_failed"."""

    reason: str
    code: int
    message: str


def denial_reason(code: int) -> str | None:
    """The refusal a close code means, or None."""
    if 4400 <= code < 4500 and code != 4410:
        return DENIALS.get(code, "denied")
    return None


def is_final(ended: Ended) -> bool:
    """No attempt after this one: a denial, a final close, or a URL that can never work."""
    return ended.invalid_url or denial_reason(ended.code) is not None or ended.code in FINAL_CLOSES


def final_ending(ended: Ended) -> tuple[State, Ending]:
    """The state and ending of a final ``ended`` (``is_final(ended)`` holds)."""
    denial = denial_reason(ended.code)
    if denial is not None:
        return State.DENIED, Ending(denial, ended.code, ended.message)
    reason = "invalid_url" if ended.invalid_url else FINAL_CLOSES[ended.code]
    return State.CLOSED, Ending(reason, ended.code, ended.message)


def retry_hint(ended: Ended) -> float:
    """Seconds the server asked us to wait before the next attempt (0: no hint). Only a
    1013 carries one; a reason without it (an older server) leaves the plain backoff."""
    hint = RETRY_AFTER.search(ended.message) if ended.code == TRY_AGAIN_LATER else None
    return float(hint[1]) if hint else 0.0
