"""The presence scripts on a real redis-server: joins, leaves, expiry handed out once."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from sanic_wsns.broker.redis_presence import (
    ADD_SCRIPT,
    EXPIRE_SCRIPT,
    GET_SCRIPT,
    REMOVE_SCRIPT,
    parse_entries,
    parse_ids,
    presence_keys,
)

CHANNEL = "wsns:/maps/7"
KEYS = presence_keys(CHANNEL)


def public(name: str) -> bytes:
    return json.dumps({"name": name}).encode()


@pytest.fixture
async def redis(redis_server):
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def add(redis, *entries, ttl_ms=60_000, keys_ttl=120):
    flat = [part for entry in entries for part in entry]
    return parse_ids(await redis.eval(ADD_SCRIPT, 2, *KEYS, ttl_ms, keys_ttl, *flat))


async def remove(redis, *ids):
    return parse_ids(await redis.eval(REMOVE_SCRIPT, 2, *KEYS, *ids))


async def expire(redis, limit=1000):
    return parse_ids(await redis.eval(EXPIRE_SCRIPT, 2, *KEYS, limit))


async def get(redis):
    return parse_entries(await redis.eval(GET_SCRIPT, 2, *KEYS))


async def test_add_reports_only_new_entries_and_refreshes_the_others(redis):
    assert await add(redis, ("c1", public("ann"))) == ["c1"]
    assert await add(redis, ("c1", public("ann")), ("c2", public("bob"))) == ["c2"]
    assert await get(redis) == {"c1": public("ann"), "c2": public("bob")}


async def test_remove_reports_only_entries_that_were_there(redis):
    await add(redis, ("c1", public("ann")))
    assert await remove(redis, "c1", "ghost") == ["c1"]
    assert await remove(redis, "c1") == []
    assert await get(redis) == {}


async def test_expired_entries_are_hidden_then_handed_to_one_sweeper(redis):
    await add(redis, ("old", public("a")), ttl_ms=1)
    await add(redis, ("live", public("b")))
    async with asyncio.timeout(5):
        while "old" in await get(redis):
            await asyncio.sleep(0.005)
    sweeps = await asyncio.gather(*(expire(redis) for _ in range(8)))
    assert sorted(id for sweep in sweeps for id in sweep) == ["old"]
    assert await get(redis) == {"live": public("b")}


async def test_an_entry_expired_and_announced_comes_back_as_a_join_when_refreshed(redis):
    await add(redis, ("c1", public("ann")), ttl_ms=1)
    async with asyncio.timeout(5):
        while not await expire(redis):
            await asyncio.sleep(0.005)
    assert await add(redis, ("c1", public("ann"))) == ["c1"]


async def test_both_keys_expire_after_the_last_refresh(redis):
    await add(redis, ("c1", public("ann")), keys_ttl=30)
    assert 0 < await redis.ttl(KEYS[0]) <= 30 and 0 < await redis.ttl(KEYS[1]) <= 30


async def test_a_large_namespace_is_read_whole(redis):
    entries = [(f"c{n}", public(str(n))) for n in range(3000)]
    for start in range(0, 3000, 500):
        await add(redis, *entries[start:start + 500])
    assert len(await get(redis)) == 3000


def test_presence_keys_share_the_channel_slot():
    assert key_slot(KEYS[0].encode()) == key_slot(KEYS[1].encode()) == key_slot(CHANNEL.encode())
