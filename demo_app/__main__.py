"""``python -m demo_app``: run one bubblemap instance (one process, or ``--workers N``
processes on a Redis broker; Ctrl-C stops it).

Every option has an environment equivalent (``BUBBLEMAP_*``); the command line wins.
Several instances serve the same maps when they share ``--db`` and a ``redis://`` broker.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import partial

from sanic import Sanic
from sanic.worker.loader import AppLoader

from sanic_wsns import ConfigError
from sanic_wsns.broker import parse_broker_url

from . import environment
from .app import check_admin_password, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    # The docstring's ``literal`` markup is for readers of the code; a terminal shows it raw.
    parser = argparse.ArgumentParser(prog="python -m demo_app", description=(__doc__ or "").replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=env("BUBBLEMAP_HOST", "127.0.0.1"),
                        help="interface to listen on (BUBBLEMAP_HOST; default %(default)s)")
    parser.add_argument("--port", type=int, default=int(env("BUBBLEMAP_PORT", "8000")),
                        help="TCP port (BUBBLEMAP_PORT; default %(default)s)")
    parser.add_argument("--broker", default=environment.broker(),
                        help="memory:// for one instance, redis://host:port/db for several "
                             "(BUBBLEMAP_BROKER; default %(default)s)")
    parser.add_argument("--db", default=environment.db(),
                        help="SQLite file, shared by instances on this host "
                             "(BUBBLEMAP_DB; default %(default)s)")
    parser.add_argument("--secret", default=env("BUBBLEMAP_SECRET"),
                        help="session signing secret (BUBBLEMAP_SECRET; default: one generated "
                             "once and kept in the database)")
    parser.add_argument("--admin", action="append", dest="admins", default=environment.admins(),
                        help="a user name that may open /admin/wsns; repeatable "
                             "(BUBBLEMAP_ADMINS, comma-separated). Needs the env variable "
                             "BUBBLEMAP_ADMIN_PASSWORD: the admin accounts get it at start")
    parser.add_argument("--workers", type=int, default=int(env("BUBBLEMAP_WORKERS", "1")),
                        help="Sanic worker processes; more than one needs a redis:// broker "
                             "(BUBBLEMAP_WORKERS; default %(default)s)")
    parser.add_argument("--metrics", action="store_true", default=environment.metrics(),
                        help="serve Prometheus metrics at /metrics, to loopback clients only "
                             "unless BUBBLEMAP_METRICS_TOKEN is set: then to any client sending "
                             "it as 'Authorization: Bearer <token>' (BUBBLEMAP_METRICS=1)")
    parser.add_argument("--debug", action="store_true", help="Sanic debug mode")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Sanic configures its own loggers only; show the extension's (start-up, refusals) too.
    wsns_logger = logging.getLogger("sanic_wsns")
    wsns_logger.setLevel(logging.DEBUG if args.debug else logging.INFO)
    wsns_logger.addHandler(logging.StreamHandler())
    admin_password = os.environ.get("BUBBLEMAP_ADMIN_PASSWORD")
    if args.admins:
        try:
            check_admin_password(admin_password)
        except ConfigError as exc:
            print(f"python -m demo_app: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    if args.workers < 1:
        raise SystemExit("python -m demo_app: --workers must be at least 1")
    if args.workers > 1 and parse_broker_url(args.broker).backend == "memory":
        print(f"python -m demo_app: --workers {args.workers} needs a Redis broker (--broker "
              f"redis://127.0.0.1:6379/0): with {args.broker} each worker would keep its "
              f"clients to itself", file=sys.stderr)
        raise SystemExit(2)
    build = partial(create_app, db_path=args.db, broker=args.broker, secret=args.secret, admins=args.admins,
                    admin_password=admin_password, metrics=args.metrics)
    if args.workers == 1:  # one process: what a kill -9 stops entirely
        app = build()
        app.config.MOTD = False
        app.run(host=args.host, port=args.port, single_process=True, debug=args.debug,
                access_log=args.debug)
        return
    # Several workers: each builds its own app in its own process (Sanic's app loader).
    loader = AppLoader(factory=build)
    app = loader.load()
    app.config.MOTD = False
    app.prepare(host=args.host, port=args.port, workers=args.workers, debug=args.debug,
                access_log=args.debug)
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()
