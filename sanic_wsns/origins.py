"""The Origin check against cross-site WebSocket hijacking, as a pure function.

Browsers always send ``Origin`` on a WebSocket upgrade and pages cannot forge it, so a
same-origin rule (the Origin's host:port equals the request's ``Host``) stops a foreign
page from riding a user's cookies into a namespace. It holds behind a proxy that passes
``Host`` on. A request with no Origin is not from a browser and is not subject to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str] = ()) -> bool:
    """Same origin, or listed in ``allowed`` (``"*"`` allows any), or no Origin at all."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    listed = {o.strip().rstrip("/").lower() for o in allowed}
    if "*" in listed or origin in listed:
        return True
    parts = urlsplit(origin)
    if not parts.netloc or not host:
        return False
    return _authority(parts.netloc, parts.scheme) == _authority(host.strip().lower(), parts.scheme)


def _authority(netloc: str, scheme: str) -> str:
    default = _DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(":" + default):
        return netloc[: -len(default) - 1]
    return netloc
