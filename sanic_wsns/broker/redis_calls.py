"""``RedisBroker``'s awaited calls, by role: history reads, presence and (in a cluster)
request-key claims, each one script call (or client call) taken in turn.

redis-py refuses a connection past its pool's cap (100, per node in a cluster) rather than
wait, and a restarted instance's clients all come back at once, each reading what it
missed: a read that failed would be a resync. So at most ``CALLS_IN_FLIGHT`` calls run at
once and the others wait their turn, up to ``CALL_WAIT`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from ..errors import BrokerUnavailable
from .redis_scripts import sha

T = TypeVar("T")

#: Script calls (history reads, presence) in flight at once, and how long a call waits for
#: its turn before it fails.
CALLS_IN_FLIGHT = 50
CALL_WAIT = 30.0


class Calls:
    """Awaited Redis calls in turn, on the broker's client (set while it runs)."""

    def __init__(self) -> None:
        self.client: Redis | RedisCluster | None = None
        self._turns = asyncio.Semaphore(CALLS_IN_FLIGHT)

    async def script(self, script: str, keys: tuple[str, ...], *args: Any) -> Any:
        """Run ``script`` (in turn: see ``call``)."""
        return await self.call(lambda client: self._evalsha(client, script, keys, args))

    async def call(self, command: Callable[[Redis | RedisCluster], Awaitable[T]]) -> T:
        """One awaited Redis call; at most ``CALLS_IN_FLIGHT`` at once, the others wait their
        turn."""
        if self.client is None:
            raise BrokerUnavailable("redis broker is not started")
        try:
            async with asyncio.timeout(CALL_WAIT):
                await self._turns.acquire()
        except TimeoutError:
            raise BrokerUnavailable(f"no turn for a redis call within {CALL_WAIT:.0f}s "
                                    f"({CALLS_IN_FLIGHT} in flight)") from None
        try:
            return await command(self.client)
        finally:
            self._turns.release()

    async def _evalsha(self, client: Redis | RedisCluster, script: str, keys: tuple[str, ...],
                       args: tuple[Any, ...]) -> Any:
        """``EVALSHA``, loading the script first when Redis does not know it (yet)."""
        try:
            return await client.evalsha(sha(script), len(keys), *keys, *args)
        except NoScriptError:
            await self.load(script)
            return await client.evalsha(sha(script), len(keys), *keys, *args)

    async def load(self, script: str) -> None:
        assert self.client is not None
        await self.client.script_load(script)  # a cluster loads it on every master
