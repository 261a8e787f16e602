"""Who may read ``/metrics``: the extension serves it to anyone who asks, and it tells how
busy every map pattern is, so bubblemap restricts it.

Without a token, only loopback clients (a Prometheus or an ``curl`` on the same host) may
read it; with ``BUBBLEMAP_METRICS_TOKEN`` set, any client that sends
``Authorization: Bearer <token>`` may (a scraper on another host). Behind a reverse proxy
on the same host every request comes from loopback: set the token, or Sanic's
``PROXIES_COUNT`` so that the client's address is the user's.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from sanic import Request
from sanic.response import HTTPResponse, json


def metrics_guard(url: str, token: str | None) -> Callable[[Request], HTTPResponse | None]:
    """Request middleware: a 401/403 answer for a request to ``url`` that may not read it."""

    def guard(request: Request) -> HTTPResponse | None:
        if request.path != url:
            return None
        if token:
            sent = request.headers.get("authorization", "")
            if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return None
            return json({"error": "unauthorized", "message": "send Authorization: Bearer <token>"},
                        status=401, headers={"WWW-Authenticate": "Bearer"})
        if _is_loopback(request.remote_addr or request.ip):
            return None
        return json({"error": "forbidden", "message": "metrics are served to this host only"}, status=403)

    return guard


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False
