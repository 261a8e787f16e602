"""A namespace authorized by a short-lived signed token.

Browsers cannot set headers on a WebSocket upgrade, and cookies do not cross origins: the
page fetches a token over REST, and the browser client's ``token`` option (a function
called before every connection attempt) sends a fresh one in ``Sec-WebSocket-Protocol``,
where ``authorize`` reads it as ``request.ctx.wsns_token`` (never in the URL, so never in
an access log). A token in the upgrade URL's query (the older ``query`` option) works too.

Every process must sign with the same key: with ``--workers N`` or several hosts, set
``SANIC_TOKEN_SECRET`` (Sanic loads it into ``app.config.TOKEN_SECRET``).
"""

import base64
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Annotated

import msgspec
from sanic import Sanic
from sanic.response import json

from sanic_wsns import Unauthorized, WsNamespaces

TOKEN_TTL = 60  # seconds: long enough to connect with, short enough that a leaked one expires

app = Sanic("token_auth")
app.config.setdefault("TOKEN_SECRET", secrets.token_hex(32))
wsns = WsNamespaces(app)
rooms = wsns.pattern("/ws/rooms/<room_id:int>")
app.static("/", Path(__file__).with_name("token_auth.html"), name="page")


def sign(payload: str) -> str:
    digest = hmac.new(app.config.TOKEN_SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue_token(user: str) -> str:
    payload = f"{user}.{int(time.time()) + TOKEN_TTL}"
    return f"{payload}.{sign(payload)}"


def verify_token(token: str) -> str:
    """The user a valid, unexpired token was issued to; ``Unauthorized`` otherwise."""
    payload, _, signature = token.rpartition(".")
    user, _, expires = payload.partition(".")
    if not hmac.compare_digest(signature, sign(payload)) or not expires.isdigit():
        raise Unauthorized("invalid token")
    if int(expires) < time.time():
        raise Unauthorized("token expired")
    return user


class TokenRequest(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9]{1,40}$")]  # no "." in a token's user


@app.post("/token")
async def token(request):
    # A real app authenticates this request (its session, a password, OAuth...);
    # here any name gets a token.
    try:
        user = msgspec.json.decode(request.body, type=TokenRequest).name
    except msgspec.DecodeError as error:       # not JSON, or no valid name
        return json({"error": str(error)}, status=400)
    return json({"token": issue_token(user), "expires_in": TOKEN_TTL})


@rooms.authorize
def can_join(request, room_id):
    # The clients' ``token`` option sends it in Sec-WebSocket-Protocol, off the URL
    # (docs/auth.md); the query string is the older way, kept for pages that use ``query``.
    token = request.ctx.wsns_token or request.args.get("token", "")
    return verify_token(token)  # the identity: the token's user


@rooms.on("say")
async def say(ns, client, data: str):
    await ns.broadcast("said", {"by": client.identity, "text": data})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
