"""sanic-ext integration: ``app.extend(extensions=[WsnsExtension(wsns)])``."""

from __future__ import annotations

from typing import Any

from sanic_ext import Extension

from .extension import WsNamespaces


class WsnsExtension(Extension):
    """Attaches a ``WsNamespaces`` when sanic-ext starts its extensions (at ``app.extend``,
    early enough for WebSocket routes)."""

    name = "wsns"

    def __init__(self, wsns: WsNamespaces | None = None, **settings: Any):
        self.wsns = wsns if wsns is not None else WsNamespaces(**settings)

    def startup(self, bootstrap: Any) -> None:
        self.wsns.attach(self.app)

    def label(self) -> str:
        return f"broker={self.wsns.settings.broker}"
