"""``create_app``: bubblemap as a Sanic app (used by ``python -m demo_app``, tests and E2E).

The reference for building on sanic_wsns: a ``WsNamespaces`` with one pattern
(``realtime.py``), a REST API that broadcasts into it (``api.py``), a SQLite store
shared by every local instance (``store/``), and a static page using ``/wsns/client.js``.
"""

from __future__ import annotations

import functools
import itertools
import math
import mimetypes
from collections.abc import Iterable
from pathlib import Path

import msgspec
from sanic import Request, Sanic
from sanic.response import HTTPResponse, file

from sanic_wsns import ConfigError, NotFound, Unauthorized, WsNamespaces, WsnsError
from sanic_wsns.outbox import Relay
from sanic_wsns.outbox.listeners import run_relay
from sanic_wsns.outbox.sqlite import SQLiteOutbox

from . import api, environment, guards
from .accounts import name_key
from .admin import ADMIN_STATS_URL, add_admin
from .hashing import PasswordHasher
from .limits import DEFAULT_LIMITS, Limits, bubbles_fitting
from .metrics_access import metrics_guard
from .models import Password
from .realtime import declare_map_lists, declare_maps
from .sessions import Sessions, SignedIn
from .store import Policy, Store, users
from .throttle import Throttle, TooManyRequests
from .ws_tokens import LIFETIME, WsTokens

STATIC = Path(__file__).parent / "static"
METRICS_URL = "/metrics"

_STATUS = {"unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
           "invalid_data": 400, "unsupported_media_type": 415, "rate_limited": 429}
_names = itertools.count()
MAX_REQUEST_BODY = 64 * 1024


def create_app(*, db_path: str | Path | None = None, broker: str | None = None,
               secret: str | None = None, admins: Iterable[str] | None = None,
               admin_password: str | None = None, limits: Limits = DEFAULT_LIMITS,
               metrics: bool | None = None, metrics_token: str | None = None,
               name: str | None = None, ws_token_lifetime: float | None = None) -> Sanic:
    """A bubblemap app on the SQLite file ``db_path`` (created if missing).

    What is not given comes from the environment (``BUBBLEMAP_DB``, ``_BROKER``,
    ``_SECRET``, ``_ADMINS``, ``_ADMIN_PASSWORD``, ``_METRICS``, ``_METRICS_TOKEN``,
    ``_WS_TOKEN_LIFETIME``), so
    that Sanic's CLI can call it bare: ``sanic demo_app.app:create_app --factory --workers
    2`` (keyword-only: the CLI first tries to pass its parsed arguments, and falls back to
    no argument).

    ``secret`` signs session cookies; without it the one kept in the database is used, so
    every instance sharing the file accepts the same cookies. ``admins`` may open
    ``/admin/wsns``; their accounts are created (or their password reset) at start with
    ``admin_password``, so nobody can register an admin's name first. ``metrics`` serves
    ``/metrics`` to loopback clients, or with ``metrics_token`` to any client sending it
    as a bearer token (``metrics_access.py``). Each call gets a unique app name unless
    ``name`` is given. ``ws_token_lifetime``: seconds a WebSocket grant lasts unless
    refreshed (``ws_tokens.py``; tests shorten it).
    """
    db_path = environment.db() if db_path is None else db_path
    broker = environment.broker() if broker is None else broker
    secret = environment.env("SECRET") if secret is None else secret
    admins = environment.admins() if admins is None else list(admins)
    admin_password = environment.env("ADMIN_PASSWORD") if admin_password is None else admin_password
    metrics = environment.metrics() if metrics is None else metrics
    metrics_token = environment.env("METRICS_TOKEN") if metrics_token is None else metrics_token
    grant_lifetime = (environment.ws_token_lifetime() or LIFETIME) if ws_token_lifetime is None \
        else ws_token_lifetime
    if admins:
        check_admin_password(admin_password)
    serial = next(_names)
    app = Sanic(name or ("bubblemap" if serial == 0 else f"bubblemap_{serial}"))
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # sanic-ext (OpenAPI, templating...) is not used here: skip it, start faster.
    app.config.AUTO_EXTEND = False
    # The largest valid body is a bubble of ~3 KB: Sanic's 100 MB default only helps a flood.
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BODY
    app.ctx.admins = frozenset(name_key(a) for a in admins)
    # SANIC_WSNS_MAX_CONNECTIONS_PER_IDENTITY, when set, wins over the demo's limit.
    app.config.setdefault("WSNS_MAX_CONNECTIONS_PER_IDENTITY", limits.connections_per_user)
    app.ctx.wsns = wsns = WsNamespaces(app, broker=broker, stats_url=ADMIN_STATS_URL,
                                       metrics_url=METRICS_URL if metrics else "")
    bubbles = limits.bubbles_per_map
    app.ctx.store = Store(db_path, Policy(
        members_per_map=limits.members_per_map, edits=limits.edits, maps_per_user=limits.maps_per_user,
        map_creations=limits.map_creations,
        bubbles_per_map=bubbles if bubbles is not None else bubbles_fitting(wsns.settings.max_send_queue)))
    app.ctx.rest_throttle = Throttle(limits.rest, "requests")
    app.ctx.presence_throttle = Throttle(limits.presence_updates, "changes of what you are doing")
    app.ctx.sign_in_throttle = Throttle(limits.sign_in, "failed sign-ins for this name")
    app.ctx.sign_in_name_throttle = Throttle(limits.sign_in_per_name, "sign-ins for this name")
    app.ctx.sign_in_address_throttle = Throttle(limits.sign_in_per_address,
                                                "sign-in attempts from this address")
    app.ctx.hasher = hasher = PasswordHasher()
    app.ctx.registration_throttle = Throttle(limits.registrations, "new accounts from this address")
    # The store's own thread runs the relay's statements; its sweeps start with the server.
    app.ctx.outbox = Relay(SQLiteOutbox(app.ctx.store), functools.partial(wsns.broadcast, confirm=True),
                           claimer=wsns.instance_id)
    run_relay(app, app.ctx.outbox)
    app.ctx.maps = declare_maps(wsns, app.ctx)
    app.ctx.map_lists = declare_map_lists(wsns, app.ctx)
    api.add_routes(app)
    app.on_request(guards.refuse_cross_site)
    if metrics:
        app.on_request(metrics_guard(METRICS_URL, metrics_token))
    app.on_response(guards.add_security_headers)

    @app.before_server_start
    async def open_store(app: Sanic) -> None:
        store: Store = app.ctx.store
        await store.open()
        shared_secret = secret or await store.write(users.secret)
        app.ctx.sessions = Sessions(shared_secret, store)
        app.ctx.ws_tokens = WsTokens(shared_secret, grant_lifetime)
        if admins:
            stored = await hasher.hash(admin_password or "")
            for admin in admins:
                await store.write(users.set_password, name_key(admin), admin, stored)

    @app.after_server_stop
    async def close_store(app: Sanic) -> None:
        await app.ctx.store.close()
        hasher.close()

    @app.exception(WsnsError)
    async def api_error(request: Request, exc: WsnsError) -> HTTPResponse:
        payload = {"error": exc.code, "message": exc.message}
        if exc.details is not None:
            payload["details"] = exc.details
        response = api.respond(payload, status=_STATUS.get(exc.code, 500))
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    async def admin_only(request: Request) -> SignedIn | None:
        session = await app.ctx.sessions.current(request)
        if session is None:
            raise Unauthorized("sign in first")
        return session if session.account.key in app.ctx.admins else None

    add_admin(app, wsns, admin_only)

    async def page(request: Request, map_id: int | None = None) -> HTTPResponse:
        return await file(STATIC / "index.html")

    app.add_route(page, "/", methods=["GET"], name="page_home")
    app.add_route(page, "/maps/<map_id:int>", methods=["GET"], name="page_map")
    app.add_route(static_file, "/static/<name:path>", methods=["GET"], name="static")
    return app


#: The page's files by URL path, listed once: no request path ever reaches the file
#: system (``/static/``, ``..`` or a NUL byte are simply not in the list: 404).
_STATIC_FILES = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.is_file()}


async def static_file(request: Request, name: str) -> HTTPResponse:
    found = _STATIC_FILES.get(name)
    if found is None:
        raise NotFound("no such file")
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return await file(found, request_headers=request.headers, mime_type=media_type)


def check_admin_password(password: str | None) -> None:
    """Raise ``ConfigError`` unless ``password`` may be the admins' password."""
    if password is None:
        raise ConfigError("--admin needs BUBBLEMAP_ADMIN_PASSWORD (the admins' password): "
                          "without it anyone could register an admin's name first")
    try:
        msgspec.convert(password, Password)
    except msgspec.ValidationError:
        raise ConfigError("BUBBLEMAP_ADMIN_PASSWORD must be 8 to 256 characters") from None
