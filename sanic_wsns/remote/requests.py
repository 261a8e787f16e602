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

    def requeue(self, items: list[Held]) -> None:
        """Put requests back at the head, before what was held since (they came first);
        not bounded: they were counted when first sent."""
        self._items.extendleft(reversed(items))

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
    #: A keyed request's frame, sent again after a drop (``None``: not keyed, fail it).
    resend: bytes | None = None


class PendingRequests:
    """Request ids and the futures their replies settle; a connection that drops sends the
    keyed requests written to it again and fails the others, a namespace that ends fails
    them all."""

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

    def keyed(self, id: int, frame: bytes) -> None:
        """Request ``id`` carries a key: after a drop, ``frame`` is sent again."""
        self._entries[id].resend = frame

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

    def dropped(self, error: RemoteError) -> list[Held]:
        """The connection dropped: the keyed requests written to it are to be sent again
        (returned in order, now unsent); the others written to it fail with ``error``."""
        again: list[Held] = []
        for id, entry in list(self._entries.items()):
            if not entry.sent:
                continue
            if entry.resend is None:
                self.reject(id, error)
            else:
                entry.sent = False
                again.append(Held(entry.resend, id))
        return again

    def reject_all(self, error: RemoteError) -> None:
        for id in list(self._entries):
            self.reject(id, error)
