"""The admin side of bubblemap: who may see it, its pages, and every instance's stats.

The admin page shows the whole deployment, not the instance that served it. Every
instance (every Sanic worker) broadcasts a small report of its own stats every
``REPORT_INTERVAL`` seconds into an admin-only namespace, ``/api/1/ws/admin``; the page
subscribes to it and aggregates. This uses the same pub/sub as the maps: no shared state,
no instance asks another anything, and an instance that dies simply stops reporting (the
page shows it stale after a few intervals). A report is a few hundred bytes and goes to
one channel whether or not an admin is watching: Redis drops it when nobody subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, file
from sanic.response import html as html_response

from sanic_wsns import Forbidden, Identity, Pattern, Unauthorized, WsNamespaces

ADMIN_STATS_URL = "/admin/wsns/stats"
ADMIN_PAGE_URL = "/admin/wsns"
ADMIN_PATTERN = "/api/1/ws/admin"
#: Seconds between two reports of one instance; the page calls an instance stale after
#: ``STALE_AFTER`` intervals without one.
REPORT_INTERVAL = 2.0
STALE_AFTER = 3
#: A report lists its instance's namespaces by path, so that the page counts a map open on
#: two workers once (summing per-instance counts showed 2 maps as 3), up to this many;
#: beyond, it sends only the count, and the page can only sum (it says so).
MAX_REPORTED_PATHS = 500
STATIC = Path(__file__).parent / "static"
DENIED = Template((Path(__file__).parent / "admin_denied.html").read_text(encoding="utf-8"))

logger = logging.getLogger("demo_app.admin")


class Reporter:
    """Turns successive ``wsns.stats()`` into reports: the totals an admin watches and the
    message rates since the previous report. Pure: the clock is passed in."""

    def __init__(self, interval: float):
        self.interval = interval
        self._previous: tuple[float, int, int] | None = None

    def report(self, stats: dict[str, Any], now: float) -> dict[str, Any]:
        totals, broker = stats["totals"], stats["broker"]
        messages_in, messages_out = totals["messages_in"], totals["messages_out"]
        rate_in = rate_out = 0.0
        if self._previous is not None:
            then, before_in, before_out = self._previous
            elapsed = max(now - then, 1e-9)
            rate_in = (messages_in - before_in) / elapsed
            rate_out = (messages_out - before_out) / elapsed
        self._previous = (now, messages_in, messages_out)
        return {
            "instance": stats["instance"],
            "interval": self.interval,
            "stale_after": self.interval * STALE_AFTER,
            "broker": {"backend": broker.get("backend", "none"), "mode": broker.get("mode"),
                       "connected": bool(broker.get("connected")),
                       "last_error": broker.get("last_error")},
            "connections": totals["clients"],
            "namespaces": totals["namespaces"],
            "namespace_paths": _paths(stats["namespaces"]),
            "messages_in_per_s": round(rate_in, 2),
            "messages_out_per_s": round(rate_out, 2),
            "errors": {
                "publish_failed": broker.get("publish_failed", 0),
                "refused": sum(totals["connections_refused"].values()),
                "dropped": sum(totals["dropped"].values()),
            },
        }


def _paths(namespaces: dict[str, Any]) -> list[str] | None:
    """The namespaces' paths, sorted; ``None`` when over ``MAX_REPORTED_PATHS``."""
    return sorted(namespaces) if len(namespaces) <= MAX_REPORTED_PATHS else None


def add_admin(app: Sanic, wsns: WsNamespaces, is_admin: Callable[[Request], Any]) -> Pattern:
    """Wire the admin side into ``app``: the guarded stats route, the admin namespace, the
    page (a styled 401/403 page for others) and this instance's reporter.
    ``is_admin(request)`` is awaited: for an admin, the admin's session (truthy; it becomes
    the admin client's identity, its account the ``user`` that signing out disconnects);
    falsy for another user; it
    raises ``Unauthorized`` when nobody is signed in. Returns the admin namespace's pattern."""
    wsns.authorize_stats(is_admin)
    admins = wsns.pattern(ADMIN_PATTERN)

    @admins.authorize
    async def only_admins(request: Request) -> Identity:
        session = await is_admin(request)
        if not session:
            raise Forbidden("admins only")
        return Identity(session, {}, user=session.account.key)

    async def admin_page(request: Request) -> HTTPResponse:
        try:
            allowed = await is_admin(request)
        except Unauthorized:
            return denied(401, "Sign in first", "Sign in as a bubblemap admin to see this page.")
        if not allowed:
            return denied(403, "Admins only",
                          "Only bubblemap admins (started with --admin) may see this page.")
        return await file(STATIC / "admin.html")

    app.add_route(admin_page, ADMIN_PAGE_URL, methods=["GET"], name="page_admin")
    _report_while_serving(app, wsns)
    return admins


def _report_while_serving(app: Sanic, wsns: WsNamespaces) -> None:
    """Run ``report_forever`` from the server's start to its stop."""

    @app.after_server_start
    async def start_reporting(app: Sanic) -> None:
        app.ctx.admin_reporting = asyncio.create_task(report_forever(wsns, REPORT_INTERVAL))

    @app.before_server_stop
    async def stop_reporting(app: Sanic) -> None:
        app.ctx.admin_reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app.ctx.admin_reporting


async def report_forever(wsns: WsNamespaces, interval: float) -> None:
    """Broadcast this instance's report every ``interval`` seconds, until cancelled."""
    reporter = Reporter(interval)
    while True:
        report = reporter.report(wsns.stats(), time.monotonic())
        try:
            await wsns.broadcast(ADMIN_PATTERN, "instance-stats", report)
        except Exception:  # one lost report must not end reporting: the page shows it stale
            logger.exception("admin stats report not sent")
        await asyncio.sleep(interval)


def denied(status: int, title: str, message: str) -> HTTPResponse:
    """The admin page's refusal, in the look of the rest of the site."""
    return html_response(DENIED.substitute(status=status, title=html.escape(title),
                                           message=html.escape(message)), status=status)
