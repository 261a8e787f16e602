"""Test server for the browser client's E2E tests: ``python e2e/apps/client_app.py --port N``.

Everything is same-origin: the page ``/`` (imports ``/wsns/client.js``), the namespaces,
and HTTP routes the tests use to look at the server side or to act on it.

Namespaces
- ``/ws/echo/<room>``: open to all. Requests: ``echo`` (replies with its data),
  ``fail`` (error ``conflict`` with details), ``slow`` (replies after ``data.seconds``),
  ``record`` (fire-and-forget: appends its data to the room's list), ``recorded`` (that list),
  ``say`` (broadcasts ``said``), ``drop`` (the server closes this client with 1012, as a
  restart would), ``kick`` (the server closes this client with 1000).
- ``/ws/deny/<kind>[-anything]``: the authorize hook refuses: ``unauthenticated`` (4401),
  ``forbidden`` (4403), ``not_found`` (4404), ``busy`` (1013, retry-worthy), ``crash`` (1011).
- ``/ws/param/<n:int>``: only for a bad path parameter (1008) when ``n`` is too long.

A scripted v1.1 server (plain Sanic WebSocket routes, no extension): the extension's side of
offsets, recovery and presence is built elsewhere, so the client's side of wire protocol v1.1
is tested against frames a test writes itself.
- ``/v11/<name>``: each upgrade sends the next frame list planned for its path (or a plain
  v1 welcome when none is left), answers ``ping`` with ``pong``, and ignores anything else.
- ``POST /v11/plan?path=P`` with a JSON list of frame lists: one list per coming upgrade.
- ``POST /v11/send?path=P`` with a JSON list of frames: sent to every open socket of ``P``.
- ``POST /v11/drop?path=P``: closes every open socket of ``P`` with 1012 (retry).

HTTP
- ``GET /attempts?path=P``: upgrade requests seen for ``P`` (admitted or not)
  as ``{"count", "times", "queries"}`` (server monotonic seconds; each query string as a dict).
- ``POST /remove?path=P``: ``remove_namespace(P)`` with 4410.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict, deque
from typing import Any

import msgspec
from sanic import Request, Sanic, Websocket
from sanic.response import HTTPResponse, html, json

from sanic_wsns import Conflict, Denied, Forbidden, NotFound, Unauthorized, WsNamespaces
from sanic_wsns.errors import CloseCode

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wsns client test</title></head>
<body>
<p id="status">loading</p>
<script type="module">
  import * as wsns from "/wsns/client.js";
  window.wsns = wsns;
  window.conns = {};
  // Open a namespace and record everything it tells the page, for the tests to read.
  window.track = (name, path, options) => {
    const ns = wsns.connect(path, options);
    const log = { states: [], welcomes: [], resyncs: [], frames: [], errors: [], stateTimes: [],
                  resyncTimes: [], presence: [] };
    ns.on("state", (state, detail) => {
      log.states.push([state, detail]);
      log.stateTimes.push([state, performance.now()]);
    });
    ns.on("welcome", (data) => log.welcomes.push(data));
    ns.on("resync", (data, frame) => {
      log.resyncs.push({ data, server: frame !== null });
      log.resyncTimes.push(performance.now());
    });
    ns.on("presence", (members, change) => {
      log.presence.push({ members: Object.fromEntries(members), change });
    });
    ns.on("said", (data) => log.frames.push(data));
    ns.on("error", (data) => log.errors.push(data));
    window.conns[name] = { ns, log, presenceMap: ns.presence };
    return ns.state;
  };
  // A settled promise as plain data, so page.evaluate can return it.
  window.outcome = (promise) => promise.then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, name: error.name, code: error.code, message: error.message,
                  details: error.details, isWsnsError: error instanceof wsns.WsnsError }),
  );
  document.getElementById("status").textContent = "ready";
</script>
</body></html>
"""


class Busy(Denied):
    close_code = CloseCode.TRY_AGAIN_LATER


DENIALS: dict[str, type[Denied]] = {
    "unauthenticated": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "busy": Busy,
}


def v1_welcome(path: str) -> dict[str, Any]:
    return {"type": "welcome", "data": {
        "client_id": "scripted", "path": path, "params": {}, "public": None,
        "limits": {"max_frame_size": 65536, "rate_limit": 50, "rate_burst": 100},
        "heartbeat_interval": 20.0, "protocol": 1,
    }}


class Script:
    """The scripted v1.1 server: frames planned per upgrade, and the open sockets per path."""

    def __init__(self) -> None:
        self.plans: dict[str, deque[list[Any]]] = defaultdict(deque)
        self.sockets: dict[str, set[Websocket]] = defaultdict(set)

    async def serve(self, path: str, ws: Websocket) -> None:
        self.sockets[path].add(ws)
        try:
            plan = self.plans[path]
            await self.send(ws, plan.popleft() if plan else [v1_welcome(path)])
            while (text := await ws.recv()) is not None:
                message = msgspec.json.decode(text)
                if message.get("type") == "ping":
                    await self.send(ws, [{"type": "pong", "data": message.get("data")}])
        finally:
            self.sockets[path].discard(ws)

    async def broadcast(self, path: str, frames: list[Any]) -> int:
        sockets = list(self.sockets[path])
        for ws in sockets:
            await self.send(ws, frames)
        return len(sockets)

    async def drop(self, path: str) -> int:
        sockets = list(self.sockets[path])
        for ws in sockets:
            await ws.close(CloseCode.SERVICE_RESTART, "dropped by the script")
        return len(sockets)

    @staticmethod
    async def send(ws: Websocket, frames: list[Any]) -> None:
        for frame in frames:
            await ws.send(msgspec.json.encode(frame).decode())


def build_app(ping_interval: float) -> Sanic:
    app = Sanic("wsns_client_e2e")
    app.config.WEBSOCKET_PING_INTERVAL = ping_interval
    wsns = WsNamespaces(app)
    attempts: dict[str, list[tuple[float, dict[str, str]]]] = defaultdict(list)
    recorded: dict[str, list[Any]] = defaultdict(list)
    script = Script()

    @app.on_request
    def seen(request: Request) -> None:
        if request.path.startswith(("/ws/", "/v11/")):
            query = {name: values[-1] for name, values in request.args.items()}
            attempts[request.path].append((time.monotonic(), query))

    echo = wsns.pattern("/ws/echo/<room:str>")
    deny = wsns.pattern("/ws/deny/<kind:str>")
    wsns.pattern("/ws/param/<n:int>")  # no hook: only its path parameter check is used

    @deny.authorize
    def refuse(request: Request, kind: str) -> None:
        kind = kind.split("-")[0]  # "busy-backoff": busy, on a path of the test's own
        if kind == "crash":
            raise RuntimeError("authorize hook crashed (on purpose)")
        raise DENIALS[kind](f"refused: {kind}")

    @echo.on("echo")
    def on_echo(ns, client, data: Any) -> Any:
        return data

    @echo.on("fail")
    def on_fail(ns, client, data: Any) -> None:
        raise Conflict("stale version", {"current": data})

    @echo.on("slow")
    async def on_slow(ns, client, data: dict[str, float]) -> str:
        await asyncio.sleep(data["seconds"])
        return "late"

    @echo.on("record")
    def on_record(ns, client, data: Any) -> None:
        recorded[ns.path].append(data)

    @echo.on("recorded")
    def on_recorded(ns, client) -> list[Any]:
        return recorded[ns.path]

    @echo.on("say")
    async def on_say(ns, client, data: Any) -> None:
        await ns.broadcast("said", data)

    @echo.on("drop")
    def on_drop(ns, client) -> None:
        client.abort(CloseCode.SERVICE_RESTART, "dropped on purpose")

    @echo.on("kick")
    async def on_kick(ns, client) -> None:
        await client.close(CloseCode.NORMAL, "kicked")

    @app.get("/")
    async def page(request: Request) -> HTTPResponse:
        return html(PAGE)

    @app.websocket("/v11/<name:str>")
    async def scripted(request: Request, ws: Websocket, name: str) -> None:
        await script.serve(request.path, ws)

    @app.post("/v11/plan")
    async def plan(request: Request) -> HTTPResponse:
        script.plans[request.args["path"][0]].extend(request.json)
        return json({"planned": len(request.json)})

    @app.post("/v11/send")
    async def send(request: Request) -> HTTPResponse:
        return json({"sockets": await script.broadcast(request.args["path"][0], request.json)})

    @app.post("/v11/drop")
    async def drop(request: Request) -> HTTPResponse:
        return json({"sockets": await script.drop(request.args["path"][0])})

    @app.get("/attempts")
    async def attempts_route(request: Request) -> HTTPResponse:
        seen = attempts.get(request.args.get("path", ""), [])
        return json({"count": len(seen), "times": [t for t, _ in seen], "queries": [q for _, q in seen]})

    @app.post("/remove")
    async def remove(request: Request) -> HTTPResponse:
        await wsns.remove_namespace(request.args["path"][0], reason="resource deleted")
        return json({"removed": True})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ping-interval", type=float, default=20.0,
                        help="Sanic's WEBSOCKET_PING_INTERVAL, sent in welcome as heartbeat_interval")
    args = parser.parse_args()
    app = build_app(args.ping_interval)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
