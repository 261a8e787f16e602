"""``python -m demo_app``: run one bubblemap instance (one process, Ctrl-C stops it).

Every option has an environment equivalent (``BUBBLEMAP_*``); the command line wins.
Several instances serve the same maps when they share ``--db`` and a ``redis://`` broker.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sanic_wsns import ConfigError

from .app import check_admin_password, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m demo_app", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=env("BUBBLEMAP_HOST", "127.0.0.1"),
                        help="interface to listen on (BUBBLEMAP_HOST; default %(default)s)")
    parser.add_argument("--port", type=int, default=int(env("BUBBLEMAP_PORT", "8000")),
                        help="TCP port (BUBBLEMAP_PORT; default %(default)s)")
    parser.add_argument("--broker", default=env("BUBBLEMAP_BROKER", "memory://"),
                        help="memory:// for one instance, redis://host:port/db for several "
                             "(BUBBLEMAP_BROKER; default %(default)s)")
    parser.add_argument("--db", default=env("BUBBLEMAP_DB", "bubblemap.db"),
                        help="SQLite file, shared by instances on this host "
                             "(BUBBLEMAP_DB; default %(default)s)")
    parser.add_argument("--secret", default=env("BUBBLEMAP_SECRET"),
                        help="session signing secret (BUBBLEMAP_SECRET; default: one generated "
                             "once and kept in the database)")
    parser.add_argument("--admin", action="append", dest="admins",
                        default=[a.strip() for a in env("BUBBLEMAP_ADMINS", "").split(",") if a.strip()],
                        help="a user name that may open /admin/wsns; repeatable "
                             "(BUBBLEMAP_ADMINS, comma-separated). Needs the env variable "
                             "BUBBLEMAP_ADMIN_PASSWORD: the admin accounts get it at start")
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
    app = create_app(args.db, broker=args.broker, secret=args.secret, admins=args.admins,
                     admin_password=admin_password)
    app.config.MOTD = False
    app.run(host=args.host, port=args.port, single_process=True, debug=args.debug,
            access_log=args.debug)


if __name__ == "__main__":
    main()
