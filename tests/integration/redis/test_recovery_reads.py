"""A recovery storm: returning clients of one namespace share its history read. Measured
in bytes Redis sends (``INFO stats``), never in time: 100 frames of 3 KB are 300 KB per
full read, and without sharing ten returning clients read 3 MB."""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import connect

from tests.support.instances import client, edit, frame, instances

FRAMES = 100
FULL_READ = FRAMES * 3000


def redis_sent(redis_server) -> int:
    stats = redis_server.cli("INFO", "stats")
    return int(next(line for line in stats.splitlines()
                    if line.startswith("total_net_output_bytes:")).split(":")[1])


async def filled(ws: Any) -> dict[str, Any]:
    """Broadcast FRAMES frames of 3 KB through ``ws`` (just connected); the position
    before them, from its welcome."""
    position = (await frame(ws))["data"]["position"]
    for _ in range(FRAMES):
        await edit(ws, "x" * 3000)
    for _ in range(FRAMES):
        await frame(ws)
    return position


async def recover(url: str) -> int:
    """Connect as a returning client and read what it missed: how many frames."""
    async with connect(url, max_queue=None) as ws:
        welcome = await frame(ws)
        assert welcome["data"]["recovered"] is True
        missed = [await frame(ws) for _ in range(FRAMES)]
        return len({f["offset"] for f in missed})


async def test_returning_clients_at_once_read_the_missed_frames_from_redis_about_once(redis_server):
    async with instances(redis_server.url, count=1, history=True) as (a,), connect(a.ws("1")) as stays, \
            client(a.ws("2")) as other:
        position = await filled(stays)
        since = f"since={position['offset']}&epoch={position['epoch']}"
        before = redis_sent(redis_server)
        counts = await asyncio.gather(*(recover(a.ws("1", since)) for _ in range(10)))
        await other.edit("served meanwhile")
        assert (await other.next())["data"] == "served meanwhile"
        assert counts == [FRAMES] * 10
        assert redis_sent(redis_server) - before < 2 * FULL_READ  # one full read, then top-ups


async def test_one_client_reconnecting_in_a_loop_reads_them_about_once(redis_server):
    async with instances(redis_server.url, count=1, history=True) as (a,), connect(a.ws("1")) as stays:
        position = await filled(stays)
        since = f"since={position['offset']}&epoch={position['epoch']}"
        before = redis_sent(redis_server)
        for _ in range(10):
            assert await recover(a.ws("1", since)) == FRAMES
        assert redis_sent(redis_server) - before < 2 * FULL_READ
