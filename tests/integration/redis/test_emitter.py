"""The emitter publishes as an instance would: its frames reach the clients of every
instance, byte for byte like an instance's broadcast, numbered by the same script in a
history namespace (so a returning client recovers them), from async and from sync code."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from sanic_wsns import ConfigError, History
from sanic_wsns.emitter import Emitter, SyncEmitter
from tests.support.instances import PATTERN, client, frame, instances, until


async def test_an_emitted_frame_reaches_every_instance_as_an_instance_s_broadcast_would(redis_server):
    emitter = Emitter(redis_server.url, patterns={PATTERN: None})
    async with instances(redis_server.url) as (a, b), emitter, client(a.ws("7")) as on_a, \
            client(b.ws("7")) as on_b:
        assert await emitter.broadcast("/maps/7", "edited", {"by": "worker"}) is None
        emitted = [await peer.until("edited") for peer in (on_a, on_b)]
        await a.wsns.broadcast("/maps/7", "edited", {"by": "worker"})
        assert await on_b.until("edited") == emitted[0] == emitted[1] == {
            "type": "edited", "data": {"by": "worker"}}


async def test_emitted_frames_are_numbered_with_the_instances_and_recovered(redis_server):
    history = History(size=50)
    async with instances(redis_server.url, history=history) as (a, b), \
            Emitter(redis_server.url, patterns={PATTERN: history}) as em:
        async with connect(a.ws("9")) as watcher:  # raw: offsets as sent, duplicates kept
            assert (await frame(watcher))["type"] == "welcome"
            first = await a.wsns.broadcast("/maps/9", "edited", 1)
            emitted = await em.broadcast("/maps/9", "edited", 2)
            assert first is not None and emitted is not None
            assert (emitted.offset, emitted.epoch) == (first.offset + 1, first.epoch)
            got = [await until(watcher, "edited") for _ in range(2)]
            assert [(f["data"], f["offset"]) for f in got] == [(1, first.offset), (2, emitted.offset)]
        since = f"since={first.offset}&epoch={first.epoch}"
        async with connect(b.ws("9", since)) as back:  # the emitted frame is recovered elsewhere
            welcome = await frame(back)
            assert welcome["data"]["recovered"] is True
            assert await frame(back) == {"type": "edited", "data": 2, "offset": emitted.offset}


async def test_a_sync_emitter_publishes_from_plain_code(redis_server):
    async with instances(redis_server.url, count=1) as (a,), client(a.ws("3")) as watcher:
        def task() -> None:  # what a Celery task body does
            with SyncEmitter(redis_server.url, patterns=[a.wsns.resolve("/maps/3")[0]]) as em:
                em.broadcast("/maps/3", "edited", {"from": "celery"})

        await asyncio.to_thread(task)
        assert (await watcher.until("edited"))["data"] == {"from": "celery"}


async def test_a_path_of_no_pattern_and_an_unstarted_emitter_are_refused(redis_server):
    emitter = Emitter(redis_server.url, patterns={PATTERN: None})
    with pytest.raises(ConfigError, match="start the emitter first"):
        await emitter.broadcast("/maps/1", "x")
    async with emitter:
        unknown = r"'/rooms/1' matches none of the emitter's patterns \(/maps/<map_id:str>\)"
        with pytest.raises(ValueError, match=unknown):
            await emitter.broadcast("/rooms/1", "x")
