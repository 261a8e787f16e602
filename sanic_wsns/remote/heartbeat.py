"""The app-level heartbeat of one connection: finds a connection that died without a close
(a frozen peer, a NAT that forgot the flow), which TCP would take minutes to notice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .options import Heartbeat

#: Without a welcome's ``heartbeat_interval``: wsns.js's default.
DEFAULT_INTERVAL = 20.0


def timings(options: Heartbeat, served: Any, pingable: bool = True) -> tuple[float, float]:
    """``(interval, timeout)``: the options' values, else the welcome's interval (seconds)
    and a timeout of that interval, at most 10 s. Not ``pingable`` (an SSE stream), nothing
    prompts the server: its comment comes once per served interval, so the timeout grows
    by that interval."""
    usable = isinstance(served, int | float) and not isinstance(served, bool) and served > 0
    served_interval = float(served) if usable else DEFAULT_INTERVAL
    interval = options.interval or served_interval
    timeout = options.timeout or min(interval, 10.0)
    return interval, timeout if pingable else timeout + served_interval


async def beat(ping: Callable[[int], Awaitable[Any]], alive: asyncio.Event,
               interval: float, timeout: float) -> None:
    """Ping every ``interval``; return when no frame (``alive`` set by the reader) came
    within ``timeout`` of a ping: the connection is dead."""
    pings = 0
    while True:
        await asyncio.sleep(interval)
        pings += 1
        alive.clear()
        await ping(pings)
        try:
            async with asyncio.timeout(timeout):
                await alive.wait()
        except TimeoutError:
            return
