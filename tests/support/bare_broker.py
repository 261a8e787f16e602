"""A broker on its own, without Sanic or a hub: for tests of what the broker itself
promises (its writer, its connections, its script calls)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

from sanic_wsns import History
from sanic_wsns.broker import Broker, create_broker
from sanic_wsns.recovery import Position

#: The channel ``numbered`` broadcasts on.
CHANNEL = "wsns:/m"


@asynccontextmanager
async def bare_broker(url: str) -> AsyncIterator[Broker]:
    """A connected broker for ``url`` that ignores what it hears; disconnected on exit."""
    broker = create_broker(url, lambda *_: None, lambda _: None)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.disconnect()


def numbered(broker: Broker, timeout: float = 10.0) -> Awaitable[Position]:
    """One history broadcast on ``CHANNEL`` through ``broker``'s writer, its wait bounded."""
    return asyncio.wait_for(broker.publish_numbered(CHANNEL, b'{"type":"t"', b"m", History()), timeout)
