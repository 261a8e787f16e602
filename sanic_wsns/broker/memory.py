"""``memory://``: an in-process broker for a single instance (the default).

Every ``MemoryBroker`` of one process that shares a URL shares one hub, so two
extensions in one process behave like two instances behind a real broker; across
processes (Sanic ``--workers``) nothing is shared, which the extension warns about.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec

from ..history import History
from ..occupancy import OccupancyStore
from ..presence import Entries
from ..recovery import Entry, Position
from ..relay import history_payload
from .base import Broker
from .memory_history import MemoryHistory
from .memory_presence import MemoryOccupancy, MemoryPresence
from .memory_requests import MemoryRequests


class MemoryBroker(Broker):
    scheme = "memory"
    _hubs: ClassVar[dict[str, dict[str, set[MemoryBroker]]]] = {}
    _histories: ClassVar[dict[str, MemoryHistory]] = {}
    _presences: ClassVar[dict[str, MemoryPresence]] = {}
    _occupancies: ClassVar[dict[str, MemoryOccupancy]] = {}
    _requests: ClassVar[dict[str, MemoryRequests]] = {}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._channels: set[str] = set()
        self._connected = False
        self._published = 0
        self._received = 0

    @property
    def _hub(self) -> dict[str, set[MemoryBroker]]:
        return self._hubs.setdefault(self.url, {})

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        for channel in list(self._channels):
            await self.unsubscribe(channel)
        self._connected = False

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._hub.setdefault(channel, set()).add(self)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        subscribers = self._hub.get(channel)
        if subscribers is not None:
            subscribers.discard(self)
            if not subscribers:
                del self._hub[channel]

    def publish(self, channel: str, payload: bytes) -> bool:
        self._published += 1
        loop = asyncio.get_running_loop()
        # call_soon keeps call order and keeps delivery out of the publisher's stack.
        for subscriber in self._hub.get(channel, ()):
            loop.call_soon(subscriber._deliver, channel, payload)
        return True

    def publish_numbered(self, channel: str, frame_head: bytes, message: bytes,
                         history: History, once: str | None = None,
                         window: float = 0.0) -> asyncio.Future[Position]:
        """Number ``frame_head``, keep it, and publish ``message`` behind the offset header
        (unless ``once`` was published within ``window``: then the first one's position),
        all at the call: the future is done when it is returned."""
        numbered: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        numbered.set_result(self._number(channel, frame_head, message, history, once, window))
        return numbered

    def _number(self, channel: str, frame_head: bytes, message: bytes, history: History,
                once: str | None, window: float) -> Position:
        """``publish_numbered``'s work, done at the call."""
        if once is not None:
            kept = self._request_keys.claim(channel, once, window)
            if kept is not None:
                return msgspec.json.decode(kept, type=Position)
        position, _ = self._histories.setdefault(self.url, MemoryHistory()).append(
            channel, frame_head, history)
        self.publish(channel, history_payload(position.offset, position.epoch, message))
        if once is not None:
            self._request_keys.settle(channel, once, msgspec.json.encode(position))
        return position

    async def read_history(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        return self._histories.setdefault(self.url, MemoryHistory()).read(channel, after, history)

    @property
    def _presence(self) -> MemoryPresence:
        return self._presences.setdefault(self.url, MemoryPresence())

    async def presence_add(self, channel: str, entries: list[tuple[str, bytes]], ttl: float) -> list[str]:
        return self._presence.add(channel, entries, ttl)

    async def presence_remove(self, channel: str, client_ids: list[str]) -> list[str]:
        return self._presence.remove(channel, client_ids)

    async def presence_expire(self, channel: str, limit: int) -> list[str]:
        return self._presence.expire(channel, limit)

    async def presence_get(self, channel: str) -> Entries:
        return self._presence.get(channel)

    @property
    def occupancy(self) -> OccupancyStore:
        return self._occupancies.setdefault(self.url, MemoryOccupancy())

    @property
    def _request_keys(self) -> MemoryRequests:
        return self._requests.setdefault(self.url, MemoryRequests())

    async def claim_request(self, channel: str, name: str, window: float) -> bytes | None:
        return self._request_keys.claim(channel, name, window)

    def settle_request(self, channel: str, name: str, answer: bytes, window: float,
                       claimed: bool = True) -> None:
        self._request_keys.settle(channel, name, answer)  # in-process: the claim is always there

    def release_request(self, channel: str, name: str) -> None:
        self._request_keys.release(channel, name)

    def _deliver(self, channel: str, payload: bytes) -> None:
        if channel in self._channels:
            self._received += 1
            self._on_message(channel, payload)

    def stats(self) -> dict[str, Any]:
        return {
            "backend": self.scheme,
            "connected": self._connected,
            "published": self._published,
            "publish_failed": 0,
            "received": self._received,
            "subscriptions": len(self._channels),
            "reconnects": 0,
        }
