"""A malformed ``since``/``epoch`` on a returning client's URL is answered on the spot:
``recovered: false`` and a ``resync`` with reason ``invalid_position``, without a broker
read, without a warning, counted under its own reason (not as an outage)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from sanic_wsns.broker.redis_history import READ_SCRIPT
from tests.support.instances import edit, frame, instances


@asynccontextmanager
async def history_reads(redis_server) -> AsyncIterator[list[str]]:
    """The history reads Redis serves inside the block (its ``MONITOR`` feed, filtered on
    the read script's SHA): other scripts run on every connect (occupancy) and do not count."""
    sha = hashlib.sha1(READ_SCRIPT.encode()).hexdigest()
    client = aioredis.from_url(redis_server.url)
    seen: list[str] = []
    ended = asyncio.Event()
    async with client.monitor() as monitor:

        async def collect() -> None:
            async for command in monitor.listen():
                if sha in command["command"]:
                    seen.append(command["command"])
                elif "history-reads-end" in command["command"]:
                    ended.set()  # the feed is in order: every command before it was seen

        collecting = asyncio.get_running_loop().create_task(collect())
        try:
            yield seen
            await client.echo("history-reads-end")
            await asyncio.wait_for(ended.wait(), 5)
        finally:
            collecting.cancel()
            await asyncio.gather(collecting, return_exceptions=True)
    await client.aclose()


@pytest.mark.parametrize("since, epoch", [
    ("-1", "EPOCH"), ("abc", "EPOCH"), ("1.5", "EPOCH"), ("1e30", "EPOCH"), ("9" * 40, "EPOCH"),
    ("1", "e" * 5000), ("1", "not an epoch"),
])
async def test_a_malformed_position_gets_invalid_position_without_touching_redis(
        redis_server, caplog, since, epoch):
    async with instances(redis_server.url, count=1, history=True) as (a,), connect(a.ws("1")) as stays:
        position = (await frame(stays))["data"]["position"]
        await edit(stays, "x")
        await frame(stays)
        query = f"since={quote(since)}&epoch={quote(epoch.replace('EPOCH', position['epoch']))}"
        with caplog.at_level(logging.WARNING, logger="sanic_wsns"):
            async with history_reads(redis_server) as reads, connect(a.ws("1", query)) as back:
                welcome = await frame(back)
                assert welcome["type"] == "welcome" and welcome["data"]["recovered"] is False
                assert await frame(back) == {"type": "resync", "data": {"reason": "invalid_position"}}
        assert reads == []
        assert not [r for r in caplog.records if r.name == "sanic_wsns"], caplog.text
        assert a.totals["resyncs"] == {"invalid_position": 1}
