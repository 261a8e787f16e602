"""Connection churn on one presence map (memory:// and Redis): clients that connect and drop
their TCP connection at once, over and over, must leave the map working for everyone.

It broke before: the dropped namespace's last presence write ran while a reconnect
re-created the namespace, the old drop then removed the new namespace's presence, and every
later join failed (welcome, then close 1000), leaving ghosts and claimed connection slots.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.integration.redis.test_presence import member
from tests.support.instances import frame, instances, until
from tests.support.servers import wait_for

CHURNERS = 10
ROUNDS = 10


async def churn(url: str) -> None:
    """Open the map, read the welcome and the presence state, then cut the TCP connection
    without a close handshake (a tab closing, a network switch); again at once, ``ROUNDS``
    times."""
    for _ in range(ROUNDS):
        ws: ClientConnection = await connect(url, open_timeout=5)
        try:
            assert (await frame(ws))["type"] == "welcome"
            assert (await frame(ws))["type"] == "presence_state"
        finally:
            ws.transport.abort()


@pytest.mark.parametrize("settings", [
    pytest.param({"unsubscribe_linger": 0.1}, id="linger"),
    pytest.param({"unsubscribe_linger": 0, "history": True}, id="no-linger-history"),
])
async def test_clients_that_connect_and_drop_at_once_leave_the_map_working(broker, settings):
    """The subscription kept across the churn (a linger), or given up and taken again each
    time with a history feed closing and starting too: either way the map keeps working."""
    async with instances(broker, presence=True, **settings) as (a, b), \
            member(b.ws("1"), "watcher") as watcher:
        await asyncio.gather(*(churn(a.ws("1", f"name=churn{n}")) for n in range(CHURNERS)))
        await wait_for(lambda: a.totals["connections"] == 0 and not a.wsns.has("/maps/1"), timeout=10)
        async with member(a.ws("1"), "fresh") as fresh:
            assert set(fresh.view) == {watcher.id, fresh.id}
            await watcher.sees({"watcher", "fresh"})
            await fresh.ws.send(json.dumps({"type": "edit", "data": "after the churn"}))
            for ws in (fresh.ws, watcher.ws):
                assert (await until(ws, "edited"))["data"] == "after the churn"
            assert a.totals["connections"] == a.totals["clients"] == 1
            assert b.totals["connections"] == b.totals["clients"] == 1
            assert set(await a.wsns.presence("/maps/1")) == {watcher.id, fresh.id}
        await watcher.sees({"watcher"})
        await wait_for(lambda: a.totals["connections"] == 0 and len(a.wsns.registry) == 0)
