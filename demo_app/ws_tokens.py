"""Short-lived tokens for the page's WebSockets: a grant that ends unless it is renewed.

The page fetches a token (``POST /api/1/session/ws-token``, with its session cookie) before
every connection attempt and before every refresh; the browser client sends it in
``Sec-WebSocket-Protocol``, never in a URL. A token is ``<session id>.<expiry in ms>.
<signature>``: the session is checked again at every upgrade and every refresh, so a
signed-out session gets no new grant, and a socket whose ``disconnect`` was lost (broker
away) still ends with its grant, within ``LIFETIME``.

The signature is an HMAC under a key derived from the cookie secret for this use only, so
a token's signature is never a valid cookie signature, nor the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import msgspec

#: Seconds a token (and the socket grant it gives) lasts: the client renews it a quarter
#: of that before the end, so a page makes one token call per socket every ~4 minutes.
LIFETIME = 300.0

_SHAPE = re.compile(r"\A([A-Za-z0-9_-]{1,64})\.([0-9]{1,15})\.([A-Za-z0-9_-]{43})\Z")


class Grant(msgspec.Struct, frozen=True):
    """What a valid token says: whose session, and until when (unix seconds)."""

    session_id: str
    expires_at: float


class WsTokens:
    """Issues and checks WebSocket tokens of ``lifetime`` seconds."""

    def __init__(self, secret: str, lifetime: float = LIFETIME):
        self._key = hmac.new(secret.encode(), b"bubblemap websocket tokens", hashlib.sha256).digest()
        self.lifetime = lifetime

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, session_id: str, now: float) -> tuple[str, Grant]:
        """A token for ``session_id`` that ends ``lifetime`` seconds after ``now``."""
        expires_ms = int((now + self.lifetime) * 1000)
        body = f"{session_id}.{expires_ms}"
        return f"{body}.{self._sign(body)}", Grant(session_id, expires_ms / 1000)

    def verify(self, token: str, now: float) -> Grant | None:
        """The grant ``token`` carries; ``None`` if it is malformed, forged or over."""
        found = _SHAPE.match(token)
        if found is None:
            return None
        session_id, expires_ms, signature = found.groups()
        if not hmac.compare_digest(self._sign(f"{session_id}.{expires_ms}"), signature):
            return None
        grant = Grant(session_id, int(expires_ms) / 1000)
        return grant if grant.expires_at > now else None
