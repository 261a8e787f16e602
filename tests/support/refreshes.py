"""The worst moment to kill an instance: right after one of its refreshes landed in Redis.

A dead instance's writes are bounded from its last refresh (``sanic_wsns/liveness.py``);
killed just after a refresh, everything it wrote lives longest, so a test that kills it
then checks the bound measured from the kill at its tightest, not by luck of the phase.
Nothing can be awaited in another process's Redis writes but the writes themselves: this
polls the member's score (a refresh moves it), bounded.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

#: Seconds between two reads of the score: the refresh is seen at most this late.
POLL = 0.01
#: A killed instance is swept within this share of the ttl: the bound of ``liveness.py``
#: (5/6) plus half its slack. Tighter than the promise (the whole ttl) so that the old
#: rule (dead a whole ttl after the last refresh) fails whatever the sweepers' phase.
SWEPT_WITHIN = 11 / 12


async def landed_refresh(url: str, key: str, member: str, timeout: float) -> tuple[float, float]:
    """Wait until ``member``'s score in the sorted set ``key`` changes (its instance
    refreshed it); ``(before, after)``: unix times the refresh landed between."""
    client = aioredis.from_url(url)
    try:
        async with asyncio.timeout(timeout):
            before = time.time()  # the read that sees the old score starts after this
            first = await client.zscore(key, member)
            assert first is not None, f"{member} is not in {key}"
            while True:
                await asyncio.sleep(POLL)
                reading = time.time()
                if await client.zscore(key, member) != first:
                    return before, time.time()
                before = reading
    finally:
        await client.aclose()


async def members(url: str, key: str) -> set[str]:
    client = aioredis.from_url(url)
    try:
        return {m.decode() for m in await client.zrange(key, 0, -1)}
    finally:
        await client.aclose()
