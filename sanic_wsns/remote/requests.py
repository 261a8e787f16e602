"""Requests waiting for their reply, and messages held while not open (wsns.js's
``PendingRequests`` and ``SendQueue``). No I/O: the namespace writes, these keep count."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import QueueFull, RemoteError


@dataclass
class Held:
    """An encoded frame waiting for an open connection; ``id`` when it is a request."""

    text: bytes
    id: int | None = None


class SendQueue:
    """Bounded, so a peer that keeps sending while offline learns it (``QueueFull``)
    instead of growing without end; wsns.js refuses the new message the same way."""

    def __init__(self, limit: int):
        self.limit = limit
        self._items: deque[Held] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Held) -> None:
        if len(self._items) >= self.limit:
            raise QueueFull(self.limit)
        self._items.append(item)

    def remove(self, id: int) -> None:
        """Forget a held request (it timed out or was cancelled before it could be sent)."""
        self._items = deque(item for item in self._items if item.id != id)

    def drain(self) -> list[Held]:
        """Everything held, in order; the queue is empty afterwards."""
        items = list(self._items)
        self._items.clear()
        return items


@dataclass
class _Entry:
    future: asyncio.Future[Any]
    sent: bool


class PendingRequests:
    """Request ids and the futures their replies settle; a connection that drops fails the
    requests written to it, a namespace that ends fails them all."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._last_id = 0

    def __len__(self) -> int:
        return len(self._entries)

    def track(self, sent: bool) -> tuple[int, asyncio.Future[Any]]:
        """A fresh id (positive, never reused) and the future its answer settles."""
        self._last_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._entries[self._last_id] = _Entry(future, sent)
        return self._last_id, future

    def mark_sent(self, id: int, sent: bool = True) -> None:
        """Request ``id`` was written to a socket (or, ``sent=False``, held again)."""
        entry = self._entries.get(id)
        if entry is not None:
            entry.sent = sent

    def forget(self, id: int) -> None:
        """The caller stopped waiting (timeout, cancellation)."""
        self._entries.pop(id, None)

    def resolve(self, id: Any, data: Any) -> None:
        entry = self._entries.pop(id, None) if isinstance(id, int) else None
        if entry is not None and not entry.future.done():
            entry.future.set_result(data)

    def reject(self, id: Any, error: RemoteError) -> None:
        entry = self._entries.pop(id, None) if isinstance(id, int) else None
        if entry is not None and not entry.future.done():
            entry.future.set_exception(error)

    def reject_sent(self, error: RemoteError) -> None:
        """The connection dropped: fail the requests written to it (held ones wait)."""
        for id in [id for id, entry in self._entries.items() if entry.sent]:
            self.reject(id, error)

    def reject_all(self, error: RemoteError) -> None:
        for id in list(self._entries):
            self.reject(id, error)
