"""What every target shares: its command line and its process set-up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
from collections.abc import Callable, Sequence
from typing import Any

#: Opt-in guarantees a target may switch on (``--history`` ...): the cost workloads run
#: the same target with and without one, instead of a copy of the app per variant.
FEATURES = {
    "history": "number broadcasts and keep them in a Redis stream (recovery)",
    "presence": "track who is in each room, on every instance",
    "metrics": "serve Prometheus metrics at /metrics",
    "awaited": "the echo-all handler waits for each broadcast's position (await ns.broadcast)",
}


def parse_args(description: str, features: Sequence[str] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--broker", default="", help="redis://host:port/db for multi-instance runs")
    parser.add_argument("--count-broker", action="store_true",
                        help="count broker messages received (W5); off elsewhere to keep hot paths bare")
    for feature in features:
        parser.add_argument(f"--{feature}", action="store_true", help=FEATURES[feature])
    args = parser.parse_args()
    raise_fd_limit()
    return args


def raise_fd_limit() -> None:
    """W3 holds thousands of sockets: lift the soft descriptor limit to the hard one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def task_count() -> int:
    """Asyncio tasks alive in the running loop (a leak check for W4)."""
    return len(asyncio.all_tasks())


#: Same listen backlog everywhere (Sanic's default of 100 would drop SYNs under W3's burst).
BACKLOG = 1024


def quiet_sanic(app: Any) -> None:
    """Log at WARNING, like uvicorn's ``log_level="warning"`` for python-socketio.

    Sanic logs every WebSocket open and close at INFO (a formatted line to stderr per
    connection): left on, it would bill W3/W4 for log lines the peer does not write.
    """
    from sanic import log

    @app.before_server_start
    async def quiet(*_: Any) -> None:
        for logger in (log.logger, log.error_logger, log.server_logger, log.websockets_logger,
                       log.access_logger):
            logger.setLevel(logging.WARNING)


def run_sanic(build: Callable[..., Any], description: str, features: Sequence[str] = ()) -> None:
    """Entry point of a Sanic target: ``build(broker, count_broker, **features)`` served in
    one process, each of ``features`` a boolean flag."""
    args = parse_args(description, features)
    app = build(args.broker, args.count_broker, **{f: getattr(args, f) for f in features})
    app.run(host=args.host, port=args.port, single_process=True, access_log=False,
            backlog=BACKLOG)
