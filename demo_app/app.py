"""``create_app``: bubblemap as a Sanic app (used by ``python -m demo_app``, tests and E2E).

The reference for building on sanic_wsns: a ``WsNamespaces`` with one pattern
(``realtime.py``), a REST API that broadcasts into it (``api.py``), a SQLite store
shared by every local instance (``store.py``), and a static page using ``/wsns/client.js``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

from sanic import Request, Sanic
from sanic.response import HTTPResponse, file

from sanic_wsns import Unauthorized, WsNamespaces, WsnsError

from . import api
from .realtime import declare_maps
from .sessions import Sessions
from .store import Store

STATIC = Path(__file__).parent / "static"
ADMIN_STATS_URL = "/admin/wsns/stats"

#: The page loads only its own scripts and styles and talks only to its own origin.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-cache",
}
_STATUS = {"unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
           "invalid_data": 400}
_names = itertools.count()


def create_app(db_path: str | Path, broker: str = "memory://", secret: str | None = None,
               admins: Iterable[str] = (), *, name: str | None = None) -> Sanic:
    """A bubblemap app on the SQLite file ``db_path`` (created if missing).

    ``secret`` signs session cookies; without it the one kept in the database is used, so
    every instance sharing the file accepts the same cookies. ``admins`` may open
    ``/admin/wsns``. Each call gets a unique app name unless ``name`` is given.
    """
    serial = next(_names)
    app = Sanic(name or ("bubblemap" if serial == 0 else f"bubblemap_{serial}"))
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # sanic-ext (OpenAPI, templating...) is not used here: skip it, start faster.
    app.config.AUTO_EXTEND = False
    app.ctx.admins = frozenset(admins)
    app.ctx.store = Store(db_path)
    app.ctx.wsns = wsns = WsNamespaces(app, broker=broker, stats_url=ADMIN_STATS_URL)
    app.ctx.maps = declare_maps(wsns, app.ctx)
    api.add_routes(app)

    @app.before_server_start
    async def open_store(app: Sanic) -> None:
        await app.ctx.store.open()
        app.ctx.sessions = Sessions(secret or await app.ctx.store.secret())

    @app.after_server_stop
    async def close_store(app: Sanic) -> None:
        await app.ctx.store.close()

    @app.exception(WsnsError)
    async def api_error(request: Request, exc: WsnsError) -> HTTPResponse:
        payload = {"error": exc.code, "message": exc.message}
        if exc.details is not None:
            payload["details"] = exc.details
        return api.respond(payload, status=_STATUS.get(exc.code, 500))

    @wsns.authorize_stats
    def admin_only(request: Request) -> bool:
        return api.user(request) in app.ctx.admins

    async def page(request: Request, map_id: int | None = None) -> HTTPResponse:
        return await file(STATIC / "index.html", headers=_PAGE_HEADERS)

    async def admin_page(request: Request) -> HTTPResponse:
        try:
            allowed = admin_only(request)
        except Unauthorized:
            return HTTPResponse("Sign in first (as an admin) to see this page.", status=401)
        if not allowed:
            return HTTPResponse("Only bubblemap admins (--admin) may see this page.", status=403)
        return await file(STATIC / "admin.html", headers=_PAGE_HEADERS)

    app.add_route(page, "/", methods=["GET"], name="page_home")
    app.add_route(page, "/maps/<map_id:int>", methods=["GET"], name="page_map")
    app.add_route(admin_page, "/admin/wsns", methods=["GET"], name="page_admin")
    app.static("/static", STATIC, name="static")
    return app
