"""Server-side sessions behind an HMAC-signed ``session`` cookie.

The cookie is ``<session id>.<signature>``: a random id that names a row of the store's
``sessions`` table, signed so that a guessed or damaged cookie costs no database read.
Signing out deletes the row, so a copy of the cookie stops working everywhere at once
(every instance shares the database and the secret). Anything malformed in a cookie is
"not signed in", never an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec
from sanic import Request
from sanic.response import HTTPResponse

from .models import Account
from .store import Store, users

COOKIE = "session"
MAX_AGE = 30 * 24 * 3600


class SignedIn(msgspec.Struct, frozen=True):
    """Who made a request, through which session (also a WebSocket client's identity)."""

    session_id: str
    account: Account


class Sessions:
    def __init__(self, secret: str, store: Store):
        self._key = secret.encode()
        self._store = store

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token(self, session_id: str) -> str:
        return f"{session_id}.{self._sign(session_id)}"

    def session_id(self, token: str | None) -> str | None:
        """The session id a cookie value carries, or ``None`` if absent, malformed or forged."""
        if not token or not token.isascii() or token.count(".") != 1:
            return None
        session_id, signature = token.split(".")
        if not session_id or not hmac.compare_digest(self._sign(session_id).encode(), signature.encode()):
            return None
        return session_id

    async def current(self, request: Request) -> SignedIn | None:
        """The request's live session; ``None`` if there is none or it was signed out."""
        session_id = self.session_id(request.cookies.get(COOKIE))
        return None if session_id is None else await self.of(session_id)

    async def of(self, session_id: str) -> SignedIn | None:
        """The session ``session_id`` if it is live (not signed out, not expired)."""
        account = await self._store.read(users.session_account, session_id, MAX_AGE)
        return None if account is None else SignedIn(session_id, account)

    async def sign_in(self, request: Request, response: HTTPResponse, account: Account) -> None:
        session_id = await self._store.write(users.open_session, account.key, MAX_AGE)
        response.add_cookie(COOKIE, self.token(session_id), path="/", max_age=MAX_AGE, httponly=True,
                            samesite="Lax", secure=request.scheme in ("https", "wss"))

    async def sign_out(self, request: Request, response: HTTPResponse) -> SignedIn | None:
        """End the request's session (if live) and clear its cookie: the session it ended."""
        session = await self.current(request)
        if session is not None:
            await self._store.write(users.close_session, session.session_id)
        response.add_cookie(COOKIE, "", path="/", max_age=0, httponly=True, samesite="Lax",
                            secure=request.scheme in ("https", "wss"))
        return session
