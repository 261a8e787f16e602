"""sanic-wsns under test: pattern ``/bench/<room>``, ``echo-all`` broadcast to the room."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from bench.targets.common import quiet_sanic, run_sanic, task_count
from sanic_wsns import WsNamespaces
from sanic_wsns.client import Client
from sanic_wsns.namespace import Namespace


def build(broker: str, count_broker: bool) -> Sanic:
    app = Sanic("bench_wsns")
    app.config.MOTD = False
    quiet_sanic(app)
    wsns = WsNamespaces(
        app,
        broker=broker or "memory://",
        # One client drives a whole room here, far above the 50 msg/s a person would send:
        # the token bucket still runs on every message, it just never refuses.
        rate_limit=1e9,
        rate_burst=1_000_000_000,
        client_url="",
    )
    room = wsns.pattern("/bench/<room>")

    @room.on("echo-all")
    async def echo_all(ns: Namespace, client: Client, data: Any) -> None:
        await ns.broadcast("echo-all", data)

    received = {"all": 0, "foreign": 0}
    if count_broker:
        # Wrapped before the broker starts (it binds the callback in before_server_start).
        deliver = wsns._on_broker_message
        prefix = len(wsns.settings.channel_prefix)

        def counting(channel: str, payload: bytes) -> None:
            received["all"] += 1
            if wsns.registry.get(channel[prefix:]) is None:
                received["foreign"] += 1
            deliver(channel, payload)

        wsns._on_broker_message = counting  # type: ignore[method-assign]

    @app.get("/_bench/state")
    async def state(request: Request) -> HTTPResponse:
        stats = wsns.stats()
        return json({
            "namespaces": stats["totals"]["namespaces"],
            "clients": stats["totals"]["clients"],
            "subscriptions": stats["totals"]["subscriptions"],
            "pending": wsns.registry.pending,
            "created": stats["totals"]["namespaces_created"],
            "dropped": stats["totals"]["namespaces_dropped"],
            "tasks": task_count(),
            "broker_received": received["all"],
            "broker_foreign": received["foreign"],
        })

    return app


def main() -> None:
    run_sanic(build, __doc__ or "")


if __name__ == "__main__":
    main()
