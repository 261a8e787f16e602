"""What a guard hook's answer means, over a real server: ``False`` refuses the upgrade and
the stats route; ``None`` admits an upgrade with no identity, but keeps the stats route shut
(a stats guard that falls off its end must not open it)."""

from __future__ import annotations

import asyncio
import json

from sanic_wsns import WsNamespaces
from tests.integration.core.test_lifecycle import http_get
from tests.support.servers import new_app, serve
from tests.support.wsclient import close_of, join, open_ws


def guarded_app(answer: object) -> tuple[object, WsNamespaces]:
    app = new_app()
    wsns = WsNamespaces(app, stats_url="/wsns/stats")
    rooms = wsns.pattern("/ws/rooms/<room_id:int>")

    @rooms.authorize
    def can_join(request, room_id):
        return answer

    @wsns.authorize_stats
    def can_watch(request):
        return answer

    return app, wsns


async def test_authorize_returning_false_closes_with_4403_and_creates_nothing():
    app, wsns = guarded_app(False)
    async with serve(app) as server:
        ws = await open_ws(server.ws("/ws/rooms/1"))
        assert await close_of(ws) == (4403, "forbidden: authorize returned False")
        assert wsns.stats()["totals"]["namespaces_created"] == 0
        assert (await asyncio.to_thread(http_get, server.http + "/wsns/stats"))[0] == 403


async def test_authorize_returning_none_admits_with_no_identity_but_the_stats_guard_refuses():
    app, wsns = guarded_app(None)
    async with serve(app) as server:
        ws, welcome = await join(server.ws("/ws/rooms/1"))
        assert welcome["public"] is None
        client = next(iter(wsns.get("/ws/rooms/1").clients.values()))
        assert client.identity is None
        assert (await asyncio.to_thread(http_get, server.http + "/wsns/stats"))[0] == 403
        await ws.close()


async def test_a_stats_guard_answering_true_opens_the_route():
    app, wsns = guarded_app(True)
    async with serve(app) as server:
        status, _, body = await asyncio.to_thread(http_get, server.http + "/wsns/stats")
        assert status == 200 and json.loads(body)["instance"] == wsns.instance_id
