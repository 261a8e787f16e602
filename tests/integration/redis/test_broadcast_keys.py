"""Idempotent broadcasts across instances and emitters on one real Redis: a broadcast's key
is remembered per namespace for the window, so a retried broadcast (a handler run again, a
task retried, the outbox relaying a row twice) is delivered once and keeps its offset.

"Once" is a promise about the wire: raw sockets here, since the Python client would drop a
repeated offset itself and hide a duplicate."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from sanic_wsns import History
from sanic_wsns.emitter import Emitter
from tests.support.instances import PATTERN, frame, instances, no_more_frames, until

KEYED = [pytest.param(False, id="pubsub"), pytest.param(True, id="history")]


@pytest.mark.parametrize("with_history", KEYED)
async def test_the_same_key_from_two_instances_and_an_emitter_is_delivered_once(redis_server, with_history):
    history = History(size=50) if with_history else None
    emitter = Emitter(redis_server.url, patterns={PATTERN: history})
    async with instances(redis_server.url, history=history or False) as (a, b), emitter, \
            connect(a.ws("5")) as watcher:
        assert (await frame(watcher))["type"] == "welcome"
        first = await a.wsns.broadcast("/maps/5", "edited", {"n": 1}, key="row-17")
        again = await b.wsns.broadcast("/maps/5", "edited", {"n": 1}, key="row-17")
        emitted = await emitter.broadcast("/maps/5", "edited", {"n": 1}, key="row-17")
        other = await emitter.broadcast("/maps/5", "edited", {"n": 2}, key="row-18")
        received = await until(watcher, "edited")
        assert received["data"] == {"n": 1}
        assert (await until(watcher, "edited"))["data"] == {"n": 2}
        assert await no_more_frames(watcher)
        if with_history:
            assert first == again == emitted and first is not None
            assert received["offset"] == first.offset and other is not None
            assert other.offset == first.offset + 1  # the repeats took no offset
        else:
            assert first is again is emitted is other is None


async def test_a_key_is_forgotten_after_the_window(redis_server):
    history = History(size=50)
    async with instances(redis_server.url, count=1, history=history, idempotency_window=0.2) as (a,), \
            connect(a.ws("6")) as watcher:
        assert (await frame(watcher))["type"] == "welcome"
        first = await a.wsns.broadcast("/maps/6", "edited", 1, key="k")
        await asyncio.sleep(0.3)  # the window itself is what is under test
        second = await a.wsns.broadcast("/maps/6", "edited", 1, key="k")
        assert first is not None and second is not None and second.offset == first.offset + 1
        assert [(await frame(watcher))["offset"] for _ in range(2)] == [first.offset, second.offset]


async def test_a_key_of_the_wrong_shape_is_refused(redis_server):
    async with instances(redis_server.url, count=1) as (a,):
        with pytest.raises(ValueError, match="broadcast key"):
            await a.wsns.broadcast("/maps/1", "edited", 1, key="no spaces")
