"""``broadcast(..., confirm=True)``: a frame counts as published only once Redis has
replied to its PUBLISH, which is what a transactional outbox (bubblemap's) needs."""

from __future__ import annotations

import asyncio

import pytest

from sanic_wsns import BrokerUnavailable, testing
from tests.support.instances import build, client, instances
from tests.support.servers import wait_for

#: A window in which a confirmation must *not* arrive (Redis is paused for longer).
NOT_YET_S = 0.5
PAUSE_MS = 1500


async def test_a_confirmed_broadcast_waits_until_a_paused_redis_wrote_it(redis_server):
    async with instances(redis_server.url) as (first, second), client(second.ws("m")) as ws:
        # A paused Redis holds every command, CLIENT UNPAUSE included: it ends by itself.
        redis_server.cli("CLIENT", "PAUSE", str(PAUSE_MS), "ALL")
        written = asyncio.ensure_future(first.wsns.broadcast("/maps/m", "edited", {"n": 1}, confirm=True))
        done, _ = await asyncio.wait([written], timeout=NOT_YET_S)
        assert not done, "confirmed while Redis could not have written it"
        await asyncio.wait_for(written, 5)
        assert (await ws.until("edited"))["data"] == {"n": 1}


async def test_a_confirmed_broadcast_raises_when_redis_is_down_and_local_clients_still_get_it(redis_server):
    async with instances(redis_server.url) as (first, _second), client(first.ws("m")) as ws:
        redis_server.kill()
        await wait_for(lambda: not first.broker["connected"], timeout=10)
        with pytest.raises(BrokerUnavailable):
            await first.wsns.broadcast("/maps/m", "edited", {"n": 2}, confirm=True)
        assert (await ws.until("edited"))["data"] == {"n": 2}


async def test_a_confirmed_broadcast_returns_once_redis_replied(redis_server):
    first, second = build(redis_server.url), build(redis_server.url)
    async with testing.serve(first.app), testing.serve(second.app) as on_second:
        ns = await on_second.connect("/maps/m")
        edited = ns.frames("edited")
        await first.broadcast("/maps/m", "edited", {"n": 3}, confirm=True)
        assert first.stats()["broker"]["published"] == 1
        async with asyncio.timeout(5):
            assert (await anext(edited))["data"] == {"n": 3}
