"""Sign-in by name: an HMAC-signed ``session`` cookie, no server-side session table.

The cookie is ``<payload>.<signature>`` where the payload is the URL-safe base64 of
``{"name", "iat"}``. Every instance sharing the secret accepts every other's cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import msgspec
from sanic import Request
from sanic.response import HTTPResponse

COOKIE = "session"
MAX_AGE = 30 * 24 * 3600


class _Payload(msgspec.Struct, frozen=True):
    name: str
    iat: int


class Sessions:
    def __init__(self, secret: str):
        self._key = secret.encode()

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token(self, name: str, now: float | None = None) -> str:
        payload = base64.urlsafe_b64encode(
            msgspec.json.encode(_Payload(name, int(now if now is not None else time.time())))
        ).rstrip(b"=")
        return f"{payload.decode()}.{self._sign(payload)}"

    def name(self, token: str | None, now: float | None = None) -> str | None:
        """The signed-in name in ``token``, or ``None`` if absent, forged or expired."""
        if not token or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(payload.encode()), signature):
            return None
        try:
            data = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
                                       type=_Payload)
        except (ValueError, msgspec.DecodeError):
            return None
        age = (now if now is not None else time.time()) - data.iat
        return data.name if 0 <= age <= MAX_AGE else None

    def current(self, request: Request) -> str | None:
        return self.name(request.cookies.get(COOKIE))

    def sign_in(self, request: Request, response: HTTPResponse, name: str) -> None:
        response.add_cookie(COOKIE, self.token(name), path="/", max_age=MAX_AGE, httponly=True,
                            samesite="Lax", secure=request.scheme in ("https", "wss"))

    def sign_out(self, request: Request, response: HTTPResponse) -> None:
        response.add_cookie(COOKIE, "", path="/", max_age=0, httponly=True, samesite="Lax",
                            secure=request.scheme in ("https", "wss"))
