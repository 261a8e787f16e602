"""sanic-wsns under test: pattern ``/bench/<room>``, ``echo-all`` broadcast to the room,
``echo`` answered to its sender (the request-key workload, ``bench/request_keys.py``).

``--history``, ``--presence`` and ``--metrics`` switch on one guarantee each (defaults:
``History()``, ``presence=True``, ``metrics_url="/metrics"``), so the cost workloads
compare the same app with and without it. The ``echo-all`` handler does not wait for its
broadcast (it needs no position: the frame is queued at the call, in call order);
``--awaited`` makes it wait, as a handler that uses the position does.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from bench.targets.common import quiet_sanic, run_sanic, task_count
from sanic_wsns import History, WsNamespaces
from sanic_wsns.client import Client
from sanic_wsns.namespace import Namespace


def build(broker: str, count_broker: bool, *, history: bool = False, presence: bool = False,
          metrics: bool = False, awaited: bool = False) -> Sanic:
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
        metrics_url="/metrics" if metrics else "",
    )
    room = wsns.pattern("/bench/<room>", history=History() if history else False, presence=presence)

    if awaited:
        @room.on("echo-all")
        async def echo_all_awaited(ns: Namespace, client: Client, data: Any) -> None:
            await ns.broadcast("echo-all", data)
    else:
        @room.on("echo-all")
        async def echo_all(ns: Namespace, client: Client, data: Any) -> None:
            ns.broadcast("echo-all", data)

    @room.on("echo")
    async def echo(ns: Namespace, client: Client, data: Any) -> Any:
        return data

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
            # sanic-wsns always counts these (``count_broker`` changes nothing here).
            "broker_received": stats["broker"].get("received", 0),
            "broker_foreign": stats["totals"]["broker_payloads_unhosted"],
        })

    return app


def main() -> None:
    run_sanic(build, __doc__ or "", ("history", "presence", "metrics", "awaited"))


if __name__ == "__main__":
    main()
