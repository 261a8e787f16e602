"""The relay's only Sanic glue: sweeps start when the server has started and stop before
it stops (frames already announced get a moment to be marked); the app's sanic-wsns
metrics (``metrics_url``) export its counts as ``wsns_outbox_*``."""

from __future__ import annotations

from typing import Any

from sanic import Sanic

from .relay import Relay


def run_relay(app: Sanic[Any, Any], relay: Relay) -> None:
    """Run ``relay``'s sweeps for as long as ``app``'s server runs, and count it in the
    metrics of the ``WsNamespaces`` attached to ``app`` (if any: it sets ``app.ctx.wsns``)."""
    wsns = getattr(app.ctx, "wsns", None)
    if wsns is not None:
        wsns.track_outbox(relay)

    async def start(app: Sanic[Any, Any]) -> None:
        relay.start()

    async def stop(app: Sanic[Any, Any]) -> None:
        await relay.stop()

    app.after_server_start(start)
    app.before_server_stop(stop)
