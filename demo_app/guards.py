"""What every HTTP request and response of bubblemap goes through: CSRF rules and headers.

CSRF. ``SameSite=Lax`` cookies still ride along on requests from another port of the
same host (same site), and an HTML form can post ``text/plain`` without a preflight.
So an unsafe method must carry ``Content-Type: application/json`` (a cross-origin page
cannot send that without a CORS preflight, which this app never grants: 415 otherwise)
and, when the browser says where it comes from (``Origin``), come from this origin: the
same rule the extension applies to WebSocket upgrades (403 otherwise).

Headers. Every response says ``nosniff`` and keeps the referrer on this origin; every
HTML response, whatever URL served it (``/``, ``/static/index.html``, ``/admin/wsns``),
gets the page's CSP, which also forbids framing it (clickjacking).
"""

from __future__ import annotations

from sanic import Request
from sanic.response import BaseHTTPResponse

from sanic_wsns import Forbidden, WsnsError
from sanic_wsns.origins import origin_allowed

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: The page loads only its own scripts and styles and talks only to its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-cache",
}


class UnsupportedMediaType(WsnsError):
    """HTTP 415: an unsafe request whose body is not declared as JSON."""

    code = "unsupported_media_type"


def refuse_cross_site(request: Request) -> None:
    """Request middleware: raise unless an unsafe request is JSON from this origin."""
    if request.method not in UNSAFE_METHODS:
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("send the body as Content-Type: application/json")
    if not origin_allowed(request.headers.get("origin"), request.headers.get("host")):
        raise Forbidden("cross-origin request refused")


def add_security_headers(request: Request, response: BaseHTTPResponse) -> None:
    """Response middleware: the headers every response, and every page, carries."""
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if (response.content_type or "").startswith("text/html"):
        for name, value in PAGE_HEADERS.items():
            headers.setdefault(name, value)
