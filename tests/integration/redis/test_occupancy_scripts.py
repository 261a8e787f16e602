"""The occupancy and online-status store on a real redis-server and in memory:// (the same
rules): transitions reported once, rewrites, dead instances leased to one sweeper, and the
bounded last-seen keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from sanic_wsns.broker.memory_presence import MemoryOccupancy
from sanic_wsns.broker.redis_presence import RedisOccupancy, user_key
from sanic_wsns.occupancy import OccupancyStore

# One redis-server serves the whole session: each test its own channel.
CHANNEL = "wsns:/maps/7"
REWRITTEN = "wsns:/maps/8"
DEPLOYMENT = "wsns:"


@pytest.fixture(params=["memory", "redis"])
async def store(request) -> Any:
    if request.param == "memory":
        yield MemoryOccupancy()
        return
    client = aioredis.from_url(request.getfixturevalue("redis_server").url)

    async def script(source: str, keys: tuple[str, ...], *args: Any) -> Any:
        return await client.eval(source, len(keys), *keys, *args)

    yield RedisOccupancy(script)
    await client.aclose()


async def test_the_first_share_and_the_last_one_are_each_reported_once(store: OccupancyStore):
    assert await store.occupy(CHANNEL, "i1", 2, ['"ann"'], []) is True
    assert await store.occupy(CHANNEL, "i2", 1, ['"ann"', '"bob"'], []) is False
    assert await store.occupy(CHANNEL, "i1", 3, ['"cy"'], ['"ann"']) is False
    assert await store.count(CHANNEL) == (4, 3)
    assert await store.vacate(CHANNEL, "i1") is False
    assert await store.count(CHANNEL) == (1, 2)
    assert await store.vacate(CHANNEL, "i2") is True
    assert await store.vacate(CHANNEL, "i2") is False  # a second sweeper, a late goodbye
    assert await store.count(CHANNEL) == (0, 0)


async def test_a_full_rewrite_replaces_the_instance_s_users(store: OccupancyStore):
    await store.occupy(REWRITTEN, "i1", 2, ['"ann"', '"bob"'], [])
    await store.occupy(REWRITTEN, "i2", 1, ['"bob"'], [])
    assert await store.occupy(REWRITTEN, "i1", 2, ['"bob"', '"cy"'], [], full=True) is False
    assert await store.count(REWRITTEN) == (3, 2)  # bob (twice held) and cy; ann is gone


async def test_a_dead_instance_is_leased_to_one_sweeper_with_what_it_held(store: OccupancyStore):
    assert await store.hold(DEPLOYMENT, "dead", 0.05, ([CHANNEL], []), (['"ann"'], [])) is True
    assert await store.hold(DEPLOYMENT, "dead", 0.05, ([], []), ([], [])) is False
    await asyncio.sleep(0.1)
    claimed = await store.claim(DEPLOYMENT, lease=30, limit=10)
    assert [instance for instance, _ in claimed] == ["dead"]
    assert await store.claim(DEPLOYMENT, lease=30, limit=10) == []  # leased: nobody else
    assert await store.holdings(DEPLOYMENT, "dead") == ([CHANNEL], ['"ann"'])
    await store.forget(DEPLOYMENT, "dead")
    assert await store.holdings(DEPLOYMENT, "dead") == ([], [])
    assert await store.hold(DEPLOYMENT, "dead", 30, ([], []), ([], [])) is True  # it was gone


async def test_a_dead_instance_s_users_stay_offline_while_it_is_swept(store: OccupancyStore):
    """The lease a sweeper takes is no refresh: ``online`` keeps the sweep's rule (dead
    past its expiry) and the last-seen time of its last refresh, and the instance's
    expiry is the same for whoever claims it after the lease."""
    deployment = "wsns-swept:"
    await store.hold(deployment, "gone", 0.05, ([], []), (['"dan"'], []))
    await store.seen(deployment, '"dan"', "gone", True, None, 60)
    await asyncio.sleep(0.1)
    dead = await store.online(deployment, ['"dan"'], 0.05)
    assert dead['"dan"'][0] is False
    [(_, expiry)] = await store.claim(deployment, lease=0.1, limit=10)
    assert await store.online(deployment, ['"dan"'], 0.05) == dead
    await asyncio.sleep(0.15)  # the sweeper died mid-way: its lease ends
    assert await store.claim(deployment, lease=30, limit=10) == [("gone", expiry)]


async def test_a_user_is_online_while_a_live_instance_holds_it(store: OccupancyStore):
    await store.hold(DEPLOYMENT, "i1", 30, ([], []), (['"ann"'], []))
    await store.seen(DEPLOYMENT, '"ann"', "i1", True, None, 60)
    await store.seen(DEPLOYMENT, '"bob"', "i1", False, 1000.0, 60)
    found = await store.online(DEPLOYMENT, ['"ann"', '"bob"', '"cy"'], 30)
    assert found['"ann"'][0] is True
    assert found['"bob"'] == (False, 1000.0) and found['"cy"'] == (False, None)
    await store.forget(DEPLOYMENT, "i1")  # its holder is gone, not swept yet
    assert (await store.online(DEPLOYMENT, ['"ann"'], 30))['"ann"'][0] is False


async def test_a_released_user_keeps_one_entry_and_expires_after_the_retention(redis_server):
    client = aioredis.from_url(redis_server.url)

    async def script(source: str, keys: tuple[str, ...], *args: Any) -> Any:
        return await client.eval(source, len(keys), *keys, *args)

    store = RedisOccupancy(script)
    key = user_key(DEPLOYMENT, '"kept"')
    try:
        await store.seen(DEPLOYMENT, '"kept"', "i1", True, None, 60)
        assert await client.ttl(key) == -1  # online: never expires
        for instance in ("i1", "i2", "i3"):  # within one millisecond, often
            await store.seen(DEPLOYMENT, '"kept"', instance, False, None, 60)
        await store.seen(DEPLOYMENT, '"kept"', "dead", False, 1000.0, 60)  # an older report
        assert await client.zcard(key) == 1
        assert await client.zscore(key, "dead") is None
        assert 0 < await client.ttl(key) <= 60
    finally:
        await client.aclose()
