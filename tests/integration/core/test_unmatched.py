"""An upgrade that matches no route, under a pattern's first segment, completes its
handshake and is closed with 1008 naming the declared patterns: a browser cannot read an
HTTP 404 (it sees 1006 and retries for ever), and 1008 is final for the browser client."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sanic.response import text
from websockets.exceptions import InvalidStatus

from sanic_wsns import WsNamespaces
from tests.integration.core.test_lifecycle import http_get
from tests.support.servers import new_app, serve
from tests.support.wsclient import close_of, open_ws

#: The browser client, run by node (whose WebSocket is the browser's API) against a real
#: server: it prints its final state once the connection stopped for good, and exits;
#: a retry timer left behind would keep node alive past the test's bound.
NODE_CLIENT = """
import { connect } from "%s";
const Native = globalThis.WebSocket;
let attempts = 0;
globalThis.WebSocket = class extends Native {
  constructor(url) { super(url); attempts += 1; }
};
const ns = connect(process.argv[2]);
ns.on("state", (state, detail) => {
  if (state === "closed" || state === "denied") console.log(JSON.stringify({ state, detail, attempts }));
});
"""
#: Bound on node's start, one connection and its exit.
NODE_TIMEOUT = 30.0
DECLARED = "no namespace pattern matches; declared: /ws/rooms/<room_id:int>, /ws/news/<topic:str>"


def rooms_app(**settings):
    app = new_app()
    wsns = WsNamespaces(app, **settings)
    wsns.pattern("/ws/rooms/<room_id:int>")
    wsns.pattern("/ws/news/<topic:str>")

    @app.get("/ws/help")
    async def help_page(request):
        return text("help")

    return app, wsns


async def test_an_unmatched_upgrade_is_closed_1008_naming_the_patterns_and_logged_once(caplog):
    app, wsns = rooms_app()
    caplog.set_level(logging.WARNING, "sanic_wsns")
    async with serve(app) as server:
        for _ in range(3):
            assert await close_of(await open_ws(server.ws("/ws/room/1"))) == (1008, DECLARED)
        assert len(wsns.registry) == 0
        assert wsns.stats()["totals"]["connections_refused"] == {"bad_request": 3}
    logged = [r.getMessage() for r in caplog.records if "/ws/room/1" in r.getMessage()]
    assert len(logged) == 1 and "matches no namespace pattern (closed with 1008)" in logged[0]


async def test_other_requests_under_the_segment_stay_404_and_the_apps_routes_answer():
    app, _ = rooms_app()
    async with serve(app) as server:
        for method in ("GET", "POST", "DELETE"):
            status = (await asyncio.to_thread(http_get_method, server.http + "/ws/room/1", method))
            assert status == 404, method
        assert (await asyncio.to_thread(http_get, server.http + "/ws/help"))[:1] == (200,)


async def test_the_reason_is_cut_to_the_123_bytes_a_close_frame_holds():
    app = new_app()
    wsns = WsNamespaces(app)
    for n in range(20):
        wsns.pattern(f"/ws/ünïcode-{n}/<room_id:int>")
    async with serve(app) as server:
        code, reason = await close_of(await open_ws(server.ws("/ws/nowhere")))
    assert code == 1008 and reason.startswith("no namespace pattern matches; declared: /ws/ünïcode-0/")
    assert reason.endswith("...") and len(reason.encode()) <= 123


async def test_with_close_unmatched_off_an_unmatched_upgrade_is_an_http_404():
    app, _ = rooms_app(close_unmatched=False)
    async with serve(app) as server:
        with pytest.raises(InvalidStatus) as refused:
            await open_ws(server.ws("/ws/room/1"))
    assert refused.value.response.status_code == 404


async def test_an_app_that_routes_every_path_under_the_segment_keeps_its_route():
    app = new_app()

    @app.get("/ws/<anything:path>")
    async def everything(request, anything):
        return text(f"app: {anything}")

    wsns = WsNamespaces(app)
    wsns.pattern("/ws/rooms/<room_id:int>")
    async with serve(app) as server:
        status, _, body = await asyncio.to_thread(http_get, server.http + "/ws/room/1")
    assert (status, body) == (200, b"app: room/1")


def http_get_method(url: str, method: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_the_browser_client_stops_on_it_and_says_why(tmp_path):
    script = tmp_path / "client.mjs"
    script.write_text(NODE_CLIENT % (Path("js-client/wsns.js").resolve().as_uri()))
    app, _ = rooms_app()
    async with serve(app) as server:
        node = await asyncio.create_subprocess_exec(
            "node", "--experimental-websocket", "--no-warnings", str(script), server.ws("/ws/room/1"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(node.communicate(), NODE_TIMEOUT)
        finally:
            if node.returncode is None:
                node.kill()
                await node.wait()
    assert node.returncode == 0, err
    assert json.loads(out) == {"state": "closed", "attempts": 1,
                               "detail": {"reason": "policy_violation", "code": 1008, "message": DECLARED}}
