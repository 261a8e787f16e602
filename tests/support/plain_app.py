"""A user's plain Sanic app plus ``WsNamespaces(app)`` and nothing else, in a process of its
own, to see what installing sanic-wsns does to an app: Sanic's defaults kept
(``AUTO_EXTEND`` on), unlike ``servers.new_app``.

``python -m tests.support.plain_app PORT [--without-sanic-ext]``. With the flag, sanic-ext is
unimportable exactly as "not installed" looks to Sanic's auto-extension (``None`` in
``sys.modules`` makes its import raise ``ModuleNotFoundError``), set before anything imports
Sanic. ``GET /routes`` lists the app's routes once it serves, i.e. after auto-extension ran.

Annotations are evaluated as written (no ``from __future__ import annotations``): sanic-ext's
injection resolves every handler's hints at start, and ``Request`` is imported in ``main``.
"""

import argparse
import sys

#: The app's own routes, as ``/routes`` lists them.
OWN_ROUTES = ["/", "/routes"]
PATTERN = "/ws/rooms/<room_id:int>"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--without-sanic-ext", action="store_true")
    args = parser.parse_args()
    if args.without_sanic_ext:
        sys.modules["sanic_ext"] = None

    from sanic import Request, Sanic
    from sanic.response import JSONResponse, json

    from sanic_wsns import WsNamespaces

    app = Sanic("plain")

    @app.get("/")
    async def index(request: Request) -> JSONResponse:
        return json({"sanic_ext_loaded": sys.modules.get("sanic_ext") is not None})

    @app.get("/routes")
    async def routes(request: Request) -> JSONResponse:
        return json(sorted("/" + route.path for route in app.router.routes))

    wsns = WsNamespaces(app)
    rooms = wsns.pattern(PATTERN)

    @rooms.on("echo")
    async def echo(ns, client, data: str) -> str:
        return data

    app.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
