"""The token a client offers in ``Sec-WebSocket-Protocol`` (core idea 15), without I/O.

Browsers cannot set headers on an upgrade, and a token in the URL ends up in access and
proxy logs; Phoenix moved its token into the subprotocol list for that reason, and so do
we: the client offers ``wsns.v1, wsns.token.<base64url of the token>`` and the server
answers ``wsns.v1``. ``read_offer`` splits the offer; the extension hands the token to
``authorize`` as ``request.ctx.wsns_token`` and keeps it out of the request's headers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

#: The subprotocol the server answers when a client offers it.
PROTOCOL = "wsns.v1"
TOKEN_PREFIX = "wsns.token."
#: The longest token accepted, in characters of its base64url form (headers are bounded
#: by Sanic anyway; a token this large is a mistake or an attack).
MAX_ENCODED_TOKEN = 8192


class MalformedToken(ValueError):
    """The offered ``wsns.token.`` subprotocol is not base64url of a UTF-8 token."""


@dataclass(frozen=True, slots=True)
class Offer:
    """What a client offered: ``wsns.v1`` or not, its token (decoded) if any, and the
    header value to hand on without the token (``None``: no header at all)."""

    protocol: bool
    token: str | None
    rest: str | None


def read_offer(values: Iterable[str]) -> Offer:
    """Split the ``Sec-WebSocket-Protocol`` header values of an upgrade.

    Raises ``MalformedToken`` for a token subprotocol that does not decode, for an empty
    token, and for more than one token."""
    offered = [part.strip() for value in values for part in value.split(",") if part.strip()]
    tokens = [part for part in offered if part.startswith(TOKEN_PREFIX)]
    kept = [part for part in offered if not part.startswith(TOKEN_PREFIX)]
    if len(tokens) > 1:
        raise MalformedToken("more than one token subprotocol")
    token = _decode(tokens[0][len(TOKEN_PREFIX):]) if tokens else None
    return Offer(PROTOCOL in kept, token, ", ".join(kept) or None)


def encode_token(token: str) -> str:
    """The subprotocol carrying ``token`` (what the clients offer)."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode(encoded: str) -> str:
    if not encoded or len(encoded) > MAX_ENCODED_TOKEN:
        raise MalformedToken("empty or oversized token")
    if encoded.rstrip("=") != encoded or not encoded.replace("-", "").replace("_", "").isalnum():
        raise MalformedToken("not base64url")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise MalformedToken("not base64url of UTF-8") from None
