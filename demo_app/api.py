"""bubblemap's REST API (``/api/1/...``): session, maps, members, bubbles.

Errors are the same exceptions the WebSocket side raises (``sanic_wsns`` errors); the
app's error handler turns them into ``{"error": code, "message", "details"?}`` with an
HTTP status: 400 ``invalid_data``, 401 ``unauthorized``, 403 ``forbidden``, 404
``not_found``, 409 ``conflict``, 415 ``unsupported_media_type``, 429 ``rate_limited``.
Every signed-in call counts against its user's REST rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from sanic_wsns import InvalidData, NotFound, Unauthorized

from . import access
from .accounts import name_key
from .hashing import PasswordHasher
from .models import Account, BubbleCreate, MapChange, MapPage, MapsQuery, NewMap, NewMember, SignIn
from .paths import PUBLIC, list_path, map_path, personal
from .realtime import end_grants
from .sessions import SignedIn
from .store import Store, bubbles, maps, users
from .ws_tokens import WsTokens

T = TypeVar("T")

#: The same answer whether or not the name exists: sign-in tells nobody who has an account.
WRONG_PASSWORD = "wrong name or password"

_encode = msgspec.json.Encoder().encode


def respond(data: Any, status: int = 200) -> HTTPResponse:
    return HTTPResponse(_encode(data), status=status, content_type="application/json")


def body(request: Request, type: type[T]) -> T:
    """The request's JSON body decoded into ``type``; raises ``InvalidData``."""
    try:
        return msgspec.json.decode(request.body or b"", type=type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidData(str(exc)) from None


async def signed_in(request: Request) -> SignedIn:
    """The request's live session, counted against its user's REST rate; raises
    ``Unauthorized`` or ``TooManyRequests``."""
    session = await request.app.ctx.sessions.current(request)
    if session is None:
        raise Unauthorized("sign in first")
    request.app.ctx.rest_throttle.check(session.account.key)
    return session


async def user(request: Request) -> str:
    """The signed-in user's name (as shown, and as stored in maps); see ``signed_in``."""
    return (await signed_in(request)).account.name


def _me(request: Request, account: Account | None) -> dict[str, Any]:
    """Who is signed in; ``map_lists``: the namespaces a map list page listens to."""
    if account is None:
        return {"name": None, "admin": False, "map_lists": []}
    return {"name": account.name, "admin": account.key in request.app.ctx.admins,
            "map_lists": [list_path(PUBLIC), list_path(personal(account.key))]}


async def get_session(request: Request) -> HTTPResponse:
    session = await request.app.ctx.sessions.current(request)
    return respond(_me(request, session and session.account))


async def sign_in(request: Request) -> HTTPResponse:
    """The first sign-in with a name registers it; later ones must give its password."""
    data = body(request, SignIn)
    ctx = request.app.ctx
    address = request.remote_addr or request.ip
    key = name_key(data.name)
    # Every attempt costs a hash: it spends a token of its address (whatever the name, so
    # fresh names buy nothing) and of its name (from any address). Guessing is slower
    # still: a token per name and address that only a failure keeps.
    ctx.sign_in_address_throttle.check(address)
    ctx.sign_in_name_throttle.check(key)
    guesses = f"{key} {address}"
    ctx.sign_in_throttle.check(guesses)
    account, registered = await _authenticate(ctx.store, ctx.hasher, data,
                                              lambda: ctx.registration_throttle.check(address))
    ctx.sign_in_throttle.refund(guesses)
    response = respond({**_me(request, account), "registered": registered})
    await ctx.sessions.sign_in(request, response, account)
    return response


async def _authenticate(store: Store, hasher: PasswordHasher, data: SignIn,
                        may_register: Callable[[], None]) -> tuple[Account, bool]:
    """The account ``data`` signs in to, and whether this call created it (after
    ``may_register()``, which raises to refuse: each registration costs a hash and a row)."""
    key = name_key(data.name)
    found = await store.read(users.credentials, key)
    if found is None:
        may_register()
        stored = await hasher.hash(data.password)
        if await store.write(users.register, key, data.name, stored):
            return Account(key=key, name=data.name), True
        found = await store.read(users.credentials, key)  # a racing sign-in registered it first
        if found is None:
            raise Unauthorized(WRONG_PASSWORD)
    account, stored = found
    if not await hasher.verify(data.password, stored):
        raise Unauthorized(WRONG_PASSWORD)
    return account, False


async def sign_out(request: Request) -> HTTPResponse:
    """End the session; its sockets (and the account's other sockets, which reconnect with
    a fresh token at once) close on every instance."""
    response = HTTPResponse(status=204)
    ended = await request.app.ctx.sessions.sign_out(request, response)
    if ended is not None:
        await end_grants(request.app.ctx.wsns, ended.account.key, "signed out")
    return response


async def ws_token(request: Request) -> HTTPResponse:
    """A short-lived token for one WebSocket attempt or refresh (``ws_tokens.py``): the
    page's ``token`` function; the cookie never reaches its script (``HttpOnly``)."""
    session = await signed_in(request)
    tokens: WsTokens = request.app.ctx.ws_tokens
    now = time.time()
    token, grant = tokens.issue(session.session_id, now)
    response = respond({"token": token, "expires_in": grant.expires_at - now})
    response.headers["Cache-Control"] = "no-store"
    return response


async def list_maps(request: Request) -> HTTPResponse:
    """A page of the maps the user may open, newest first (``MapPage``): a list of
    thousands of maps was 4.7 MB on every read."""
    name = await user(request)
    query = _query(request, MapsQuery)
    # One more than asked: whether an older page exists, without a count.
    cards = await request.app.ctx.store.read(maps.visible_to, name, query.limit + 1, query.before)
    more = len(cards) > query.limit
    cards = cards[:query.limit]
    after = f"{request.path}?limit={query.limit}&before={cards[-1].id}" if more else None
    return respond(MapPage(maps=cards, next=after))


def _query(request: Request, type: type[T]) -> T:
    """The request's query string (each argument once) decoded into ``type``; raises
    ``InvalidData``."""
    arguments = {name: values[-1] for name, values in request.args.items()}
    try:
        return msgspec.convert(arguments, type=type, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidData(str(exc)) from None


async def create_map(request: Request) -> HTTPResponse:
    name = await user(request)
    data = body(request, NewMap)
    store: Store = request.app.ctx.store
    return respond(await store.write(maps.create, store.policy, data.title.strip(), name, data.private),
                   status=201)


async def get_map(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.open_map(store, map_id, await user(request))
    view = await store.read(bubbles.view, map_id)
    if view is None:
        raise NotFound("no such map")
    return respond(view)


async def delete_map(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.own_map(store, map_id, await user(request))
    frame = await store.write(maps.delete, map_id)
    if frame is not None:
        # The outbox's map-deleted frame tells pages even if this instance dies now; closing
        # the map's clients on every instance (through the broker) is the fast path.
        await request.app.ctx.outbox.announce(frame)
    await request.app.ctx.wsns.remove_namespace(map_path(map_id), code=4410, reason="map deleted")
    return HTTPResponse(status=204)


async def add_member(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.own_map(store, map_id, await user(request))
    member = await store.read(users.account, name_key(body(request, NewMember).name))
    if member is None:
        raise NotFound("no such user: they must sign in once first")
    changed, frame = await store.write(maps.add_member, store.policy, map_id, member.name)
    if frame is not None:
        await request.app.ctx.outbox.announce(frame)
    return respond(changed)


async def change_map(request: Request, map_id: int) -> HTTPResponse:
    """The owner renames a map; its pages and the map lists follow."""
    store = request.app.ctx.store
    await access.own_map(store, map_id, await user(request))
    changed, frame = await store.write(maps.rename, map_id, body(request, MapChange).title.strip())
    await request.app.ctx.outbox.announce(frame)
    return respond(changed)


async def create_bubble(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    name = await user(request)
    await access.open_map(store, map_id, name)
    bubble, frame = await store.write(bubbles.create, store.policy, map_id, body(request, BubbleCreate), name)
    # Published even when no client of this map is connected here: others may have some.
    await request.app.ctx.outbox.announce(frame)
    return respond(bubble, status=201)


def add_routes(app: Sanic) -> None:
    routes = [
        (get_session, "/api/1/session", "GET"),
        (sign_in, "/api/1/session", "POST"),
        (sign_out, "/api/1/session", "DELETE"),
        (ws_token, "/api/1/session/ws-token", "POST"),
        (list_maps, "/api/1/maps", "GET"),
        (create_map, "/api/1/maps", "POST"),
        (get_map, "/api/1/maps/<map_id:int>", "GET"),
        (change_map, "/api/1/maps/<map_id:int>", "PATCH"),
        (delete_map, "/api/1/maps/<map_id:int>", "DELETE"),
        (add_member, "/api/1/maps/<map_id:int>/members", "POST"),
        (create_bubble, "/api/1/maps/<map_id:int>/bubbles", "POST"),
    ]
    for handler, uri, method in routes:
        app.add_route(handler, uri, methods=[method], name=f"api_{handler.__name__}")
