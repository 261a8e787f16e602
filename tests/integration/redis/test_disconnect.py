"""``wsns.disconnect(user=...)`` (core idea 15): every connection of one user closes, on
every instance, with one broker message, sent from an instance that hosts none of them."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from sanic_wsns import BrokerUnavailable, Identity, WsNamespaces
from tests.support.servers import new_app, serve, wait_for
from tests.support.wsclient import close_of, join, request


def build(broker: str) -> tuple[object, WsNamespaces]:
    app = new_app()
    wsns = WsNamespaces(app, broker=broker)
    rooms = wsns.pattern("/ws/<user>/rooms/<room:int>")

    @rooms.authorize
    def check(request, user, room):
        return Identity(f"{user}-session-{room}", user=user)

    return app, wsns


@pytest.fixture
async def trio(broker):
    async with AsyncExitStack() as stack:
        instances = []
        for _ in range(3):
            app, wsns = build(broker)
            instances.append((await stack.enter_async_context(serve(app)), wsns))
        yield instances


async def test_every_connection_of_the_user_closes_on_every_instance_and_no_other(trio):
    (a, _), (b, _), (c, c_wsns) = trio
    ann = [await join(server.ws(f"/ws/ann/rooms/{room}")) for server, room in ((a, 1), (a, 2), (b, 1))]
    bob = [await join(server.ws("/ws/bob/rooms/1")) for server in (a, b, c)]
    assert c_wsns.get("/ws/ann/rooms/1") is None  # c knows none of ann's namespaces
    await c_wsns.disconnect(user="ann", code=4401, reason="signed out")
    closes = await asyncio.gather(*(close_of(ws) for ws, _ in ann))
    assert closes == [(4401, "signed out")] * 3
    for ws, _ in bob:
        assert (await request(ws, "ping", None))["type"] == "pong"
        await ws.close()
    counted = sum(wsns.stats()["totals"]["disconnects"].get("user", 0) for _, wsns in trio)
    exported = sum(wsns.hub.snapshot().disconnects.get("user", 0) for _, wsns in trio)
    assert counted == exported == 3


async def test_a_user_with_no_connection_anywhere_is_a_no_op(trio):
    (a, a_wsns), _, _ = trio
    ws, _ = await join(a.ws("/ws/bob/rooms/1"))
    await a_wsns.disconnect(user="nobody")
    assert (await request(ws, "ping", None))["type"] == "pong"
    await ws.close()


async def test_a_user_that_is_not_a_str_or_int_is_a_type_error(trio):
    _, _, (_, wsns) = trio
    with pytest.raises(TypeError, match=r"Identity\.user"):
        await wsns.disconnect(user=("ann",))


async def test_a_broker_outage_still_closes_the_local_connections_then_raises(redis_server):
    app, wsns = build(redis_server.url)
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/ann/rooms/1"))
        redis_server.stop()
        await wait_for(lambda: not wsns.broker.connected, timeout=10)
        with pytest.raises(BrokerUnavailable, match="this instance only"):
            await wsns.disconnect(user="ann", reason="signed out")
        assert await close_of(ws) == (4401, "signed out")
