"""A ``memory://`` broker one of whose calls waits until the test lets it through, to force
an interleaving: a client admitted only once its namespace's subscription is confirmed, a
namespace left by its last client while a returning client's history is being read, a
namespace re-created while its predecessor's last presence write is in flight.
Tests pass one as the app's broker (``WsNamespaces(app, broker=GatedBroker("memory://gated"))``,
or ``instances(url, broker_class=GatedBroker)``) and choose the call with ``gated``: the hub
registers its handlers on it as on any broker, nothing is patched.
``GatedRedisBroker`` is the same gate in front of a real redis-server."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from sanic_wsns.broker.base import Broker
from sanic_wsns.broker.memory import MemoryBroker
from sanic_wsns.broker.redis import RedisBroker
from sanic_wsns.history import History
from sanic_wsns.presence import Entries
from sanic_wsns.recovery import Entry, Position


class GatedCalls(Broker):
    """The broker calls a test can hold (``GatedBroker.gated`` names the one), in front of
    whichever backend comes next in the class's bases."""

    async def subscribe(self, channel: str) -> None:
        if "/" in channel:  # namespace paths start with "/"
            await _gate("subscribe")
        await super().subscribe(channel)

    async def read_history(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        await _gate("read_history")
        return await super().read_history(channel, after, history)

    async def presence_add(self, channel: str, entries: list[tuple[str, bytes]], ttl: float) -> list[str]:
        await _gate("presence_add")
        return await super().presence_add(channel, entries, ttl)

    async def presence_remove(self, channel: str, client_ids: list[str]) -> list[str]:
        await _gate("presence_remove")
        return await super().presence_remove(channel, client_ids)

    async def presence_get(self, channel: str) -> Entries:
        entries = await super().presence_get(channel)
        await _gate("presence_get")
        return entries


class GatedBroker(GatedCalls, MemoryBroker):
    #: The call that waits: ``"subscribe"`` (a namespace's: the control channel taken at
    #: start never waits), ``"read_history"``, ``"presence_add"``, ``"presence_remove"``,
    #: ``"presence_get"`` (it waits after reading: it returns what was there before), or
    #: ``""`` for none.
    gated: ClassVar[str] = "subscribe"
    #: Set by the test (one per test, in its own loop): the gated call goes on once it is set.
    confirm: ClassVar[asyncio.Event]
    #: Set when the gated call was made.
    asked: ClassVar[asyncio.Event]


class GatedRedisBroker(GatedCalls, RedisBroker):
    """``RedisBroker`` whose call ``GatedBroker.gated`` waits at the same gate."""


async def _gate(call: str) -> None:
    if call == GatedBroker.gated:
        GatedBroker.asked.set()
        await GatedBroker.confirm.wait()
