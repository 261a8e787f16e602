"""sanic-ext integration: ``app.extend(extensions=[WsnsExtension(wsns)])``.

sanic-ext is an optional extra (``pip install 'sanic-wsns[ext]'``): once importable,
Sanic extends *every* app with it (OpenAPI ``/docs`` routes, automatic HEAD/OPTIONS), so
installing a WebSocket library must not bring it along. Only this module imports it, and
``sanic_wsns`` imports this module only when ``WsnsExtension`` is asked for.
"""

from __future__ import annotations

from typing import Any

try:
    from sanic_ext import Extension
except ImportError:
    raise ImportError("WsnsExtension needs sanic-ext: pip install 'sanic-wsns[ext]'",
                      name="sanic_ext") from None

from .extension import WsNamespaces


class WsnsExtension(Extension):
    """Attaches a ``WsNamespaces`` when sanic-ext starts its extensions (at ``app.extend``,
    early enough for WebSocket routes). Needs the ``ext`` extra:
    ``pip install 'sanic-wsns[ext]'``."""

    name = "wsns"

    def __init__(self, wsns: WsNamespaces | None = None, **settings: Any):
        self.wsns = wsns if wsns is not None else WsNamespaces(**settings)

    def startup(self, bootstrap: Any) -> None:
        self.wsns.attach(self.app)

    def label(self) -> str:
        return f"broker={self.wsns.settings.broker}"
