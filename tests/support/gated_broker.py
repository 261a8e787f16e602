"""A ``memory://`` broker whose subscriptions wait until the test confirms them, to show
that the core admits a client only once its namespace's subscription is confirmed.
Tests put it in the place of the memory backend (``monkeypatch.setitem(BACKENDS, "memory",
SCHEME_TARGET)``) and connect to ``memory://gated``."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from sanic_wsns.broker.memory import MemoryBroker

SCHEME_TARGET = "tests.support.gated_broker:GatedBroker"


class GatedBroker(MemoryBroker):
    #: Set by the test (one per test, in its own loop): subscriptions complete once it is set.
    confirm: ClassVar[asyncio.Event]
    #: Set when a subscription was asked for.
    asked: ClassVar[asyncio.Event]

    async def subscribe(self, channel: str) -> None:
        GatedBroker.asked.set()
        await GatedBroker.confirm.wait()
        await super().subscribe(channel)
