"""Idempotent broadcasts on ``memory://``: the same promise as with Redis, in-process."""

from __future__ import annotations

import pytest

from sanic_wsns import History, WsNamespaces
from tests.support.servers import new_app, serve
from tests.support.wsclient import join, recv_json


@pytest.mark.parametrize("history", [None, History(size=10)], ids=["pubsub", "history"])
async def test_a_keyed_broadcast_sent_twice_is_delivered_once(history):
    wsns = WsNamespaces(new_app(), broker=f"memory://keys-{history is not None}")
    rooms = wsns.pattern("/rooms/<room:int>", history=history)
    async with serve(wsns.app) as srv:
        ws, _ = await join(srv.ws("/rooms/1"))
        first = await rooms.broadcast({"room": 1}, "news", "once", key="n-1")
        again = await rooms.broadcast({"room": 1}, "news", "once", key="n-1")
        await rooms.broadcast({"room": 1}, "news", "next")
        got = [await recv_json(ws), await recv_json(ws)]
        assert [f["data"] for f in got] == ["once", "next"]
        assert first == again
        if history is not None:
            assert first is not None and [f["offset"] for f in got] == [first.offset, first.offset + 1]
        await ws.close()
