"""When admitted connections expire (core idea 15): one timer per instance, not a task
per connection.

``Deadlines`` is the pure bookkeeping (a heap of deadlines with lazy deletion, compacted
when refreshes and departures leave it mostly stale); ``ExpirySweep`` arms one loop timer
for the earliest deadline and closes what is due with 4001 ``expired``, after which the
clients reconnect with a fresh token. A refresh moves a client's deadline; a client that
leaves is forgotten at once (the heap keeps only its id and deadline until compaction).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING

from .errors import CloseCode

if TYPE_CHECKING:
    from .client import Client

#: The reason of the 4001 close.
EXPIRED = "expired"


def expires_in(expires_at: float) -> float:
    """Seconds from now until ``expires_at`` (unix seconds), as ``welcome`` and a
    refresh's reply say it (never negative; milliseconds are enough)."""
    return round(max(0.0, expires_at - time.time()), 3)


class Deadlines:
    """Keys with a deadline each; ``due(now)`` takes those whose deadline has come."""

    __slots__ = ("_at", "_heap")

    def __init__(self) -> None:
        self._at: dict[Hashable, float] = {}
        self._heap: list[tuple[float, int, Hashable]] = []

    def set(self, key: Hashable, at: float) -> None:
        """Give ``key`` the deadline ``at`` (replacing any it had)."""
        self._at[key] = at
        heapq.heappush(self._heap, (at, id(key), key))
        if len(self._heap) > 2 * len(self._at) + 64:
            self._heap = [(when, id(k), k) for k, when in self._at.items()]
            heapq.heapify(self._heap)

    def discard(self, key: Hashable) -> None:
        self._at.pop(key, None)

    def next_at(self) -> float | None:
        """The earliest live deadline (stale heap entries are dropped on the way)."""
        heap = self._heap
        while heap and self._at.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, now: float) -> list[Hashable]:
        """The keys whose deadline is ``now`` or earlier, forgotten as they are taken."""
        taken: list[Hashable] = []
        while (at := self.next_at()) is not None and at <= now:
            key = heapq.heappop(self._heap)[2]
            del self._at[key]
            taken.append(key)
        return taken

    def __len__(self) -> int:
        return len(self._at)


class ExpirySweep:
    """Closes each client with 4001 ``expired`` when its ``expires_at`` (unix seconds)
    comes, unless a refresh moved it; one timer handle for the whole instance."""

    def __init__(self) -> None:
        self._deadlines = Deadlines()
        self._clients: dict[str, Client] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        #: Connections closed because their grant ended, by reason (bounded: ``expired``,
        #: ``refresh_refused``, ``user``), for ``wsns_disconnects_total``.
        self.closes: dict[str, int] = {}

    def count(self, reason: str, closed: int = 1) -> None:
        self.closes[reason] = self.closes.get(reason, 0) + closed

    def watch(self, client: Client, expires_at: float | None) -> None:
        """Expire ``client`` at ``expires_at`` (``None``: never), replacing its deadline."""
        if expires_at is None:
            self.forget(client)
            return
        loop = asyncio.get_running_loop()
        at = loop.time() + (expires_at - time.time())
        self._clients[client.id] = client
        self._deadlines.set(client.id, at)
        self._arm(loop)

    def forget(self, client: Client) -> None:
        """``client`` left: no deadline for it any more."""
        if self._clients.pop(client.id, None) is not None:
            self._deadlines.discard(client.id)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._armed_at = None

    def __len__(self) -> int:
        return len(self._deadlines)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        at = self._deadlines.next_at()
        if at == self._armed_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None if at is None else loop.call_at(at, self._sweep)
        self._armed_at = at

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = self._armed_at = None
        for client_id in self._deadlines.due(loop.time()):
            client = self._clients.pop(str(client_id))
            client.abort(CloseCode.EXPIRED, EXPIRED)
            self.count(EXPIRED)
        self._arm(loop)
