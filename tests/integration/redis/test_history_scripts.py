"""The history scripts on a real redis-server: offsets, epochs, bounds, and the publish."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from sanic_wsns.broker.redis_history import (
    PUBLISH_SCRIPT,
    READ_SCRIPT,
    history_keys,
    parse_entries,
    parse_position,
)
from sanic_wsns.recovery import Position
from sanic_wsns.relay import split_history

CHANNEL = "wsns:/maps/42"


@pytest.fixture
async def redis(redis_server):
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def publish(redis, data, *, size=100, ttl=300, meta_ttl=3600, epoch="fresh", envelope=b"env",
                  max_bytes=2**30):
    head = b'{"type":"t","data":%s' % json.dumps(data).encode()
    reply = await redis.eval(PUBLISH_SCRIPT, 2, *history_keys(CHANNEL), head, envelope, size, ttl,
                             meta_ttl, epoch, "PUBLISH", CHANNEL, max_bytes)
    return parse_position(reply)


async def read(redis, after=0, *, epoch="fresh"):
    reply = await redis.eval(READ_SCRIPT, 2, *history_keys(CHANNEL), after, 3600, epoch)
    return parse_position(reply), parse_entries(reply[2])


async def test_offsets_count_from_one_inside_the_epoch_given_first(redis):
    assert await publish(redis, 1) == Position(1, "fresh")
    assert await publish(redis, 2, epoch="ignored") == Position(2, "fresh")


async def test_the_kept_frame_is_the_client_frame_with_its_offset(redis):
    await publish(redis, {"x": 1})
    _, entries = await read(redis)
    assert entries[0][0] == 1
    assert json.loads(entries[0][1]) == {"type": "t", "data": {"x": 1}, "offset": 1}


async def test_read_returns_only_frames_after_the_offset_and_the_top(redis):
    for n in range(5):
        await publish(redis, n)
    top, entries = await read(redis, 2)
    assert top == Position(5, "fresh") and [o for o, _ in entries] == [3, 4, 5]


async def test_history_keeps_only_the_last_size_frames(redis):
    for n in range(10):
        await publish(redis, n, size=3)
    top, entries = await read(redis)
    assert top.offset == 10 and [o for o, _ in entries] == [8, 9, 10]


def frame_bytes(data, offset: int) -> int:
    """Bytes of the kept frame of ``publish(redis, data)`` at ``offset``."""
    return len(b'{"type":"t","data":%s,"offset":%d}' % (json.dumps(data).encode(), offset))


async def test_history_keeps_only_the_frames_that_fit_max_bytes(redis):
    each = frame_bytes("x" * 1000, 1)  # offsets 1..9: one digit, the same size each
    for _ in range(9):
        await publish(redis, "x" * 1000, max_bytes=3 * each)
    top, entries = await read(redis)
    assert top.offset == 9 and [o for o, _ in entries] == [7, 8, 9]
    assert int(await redis.hget(history_keys(CHANNEL)[1], "b")) == 3 * each  # the running total


async def test_the_newest_frame_is_kept_even_when_it_alone_is_over_max_bytes(redis):
    await publish(redis, "small", max_bytes=100)
    await publish(redis, "x" * 500, max_bytes=100)
    _, entries = await read(redis)
    assert [o for o, _ in entries] == [2]


async def test_the_byte_total_starts_again_when_the_stream_expired_before_its_meta(redis):
    for _ in range(3):
        await publish(redis, "x" * 100, max_bytes=10_000)
    stream, meta = history_keys(CHANNEL)
    await redis.delete(stream)  # what its ttl does, while the meta (longer ttl) stays
    await publish(redis, "y", max_bytes=10_000)
    assert int(await redis.hget(meta, "b")) == frame_bytes("y", 4)


async def test_keys_expire_with_the_ttls_given(redis):
    await publish(redis, 1, ttl=30, meta_ttl=600)
    stream, meta = history_keys(CHANNEL)
    assert 0 < await redis.ttl(stream) <= 30
    assert 30 < await redis.ttl(meta) <= 600


async def test_a_lost_meta_starts_a_new_epoch_and_drops_the_old_frames(redis):
    await publish(redis, 1)
    await publish(redis, 2)
    await redis.delete(history_keys(CHANNEL)[1])  # what a restart without persistence does
    assert await publish(redis, 3, epoch="second") == Position(1, "second")
    _, entries = await read(redis)
    assert [o for o, _ in entries] == [1]


async def test_reading_an_unknown_namespace_fixes_its_epoch_at_offset_zero(redis):
    assert (await read(redis, epoch="early"))[0] == Position(0, "early")
    assert await publish(redis, 1, epoch="late") == Position(1, "early")


async def test_the_publish_carries_offset_epoch_and_envelope_to_subscribers(redis):
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
    await publish(redis, 1, envelope=b"\x96relay")
    message = None
    async with asyncio.timeout(5):
        while message is None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    assert split_history(message["data"]) == (1, "fresh", b"\x96relay")
    await pubsub.aclose()


def test_history_keys_share_the_channel_slot():
    for channel in (CHANNEL, "wsns:/rooms/a%20b", "p:/x/1/y/2"):
        stream, meta = history_keys(channel)
        assert key_slot(stream.encode()) == key_slot(meta.encode()) == key_slot(channel.encode())


def test_a_channel_with_braces_cannot_keep_history():
    with pytest.raises(ValueError, match="braces"):
        history_keys("wsns:/a/{b}")
