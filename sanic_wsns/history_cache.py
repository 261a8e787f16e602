"""Recent history reads of this instance, per namespace, so returning clients share them.

A client that comes back with ``since`` gets every frame after it from history: with 100
frames of 3 KB kept, a reconnect from the bottom of the history reads 300 KB from Redis.
A crowd of returning clients of one namespace (an instance restart, a network blip, one
user reconnecting in a loop) read the same frames again and again: in the report, one user
took Redis to 33% CPU and another's write round trip from 2.6 to 35 ms.

So the frames of the last read of each namespace are kept here, and a later read only
*tops them up*: it asks the broker for the frames after the newest one kept, and for that
one too, to see that the stream still holds it (the frames of one epoch never change, but a
stream can expire or be lost: then the copy is dropped and the read is made in full). Reads
of one namespace take turns, and a reader that finds the copy topped up by a read sent
after it arrived takes the copy as it is (that read saw everything the reader's namespace
had delivered when it asked): a burst of returning clients costs one full read, then one
read of a frame or two for all who waited behind it. The copy keeps the same bounds as the
stream (``size`` frames, ``max_bytes``), and all copies together at most ``max_bytes`` of
this instance, the least recently read going first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from .history import History
from .recovery import Entry, Position

#: ``read(channel, after, history)``: the broker's history read.
BrokerRead = Callable[[str, int, History], Awaitable[tuple[Position, list[Entry]]]]
#: Bytes of frames kept across every namespace of one instance.
MAX_BYTES = 32 * 1024 * 1024


@dataclass(slots=True)
class _Copy:
    """Consecutive frames of one stream, up to its top, inside one epoch."""

    top: Position
    entries: deque[Entry] = field(default_factory=deque)
    bytes: int = 0
    #: The number of the broker read that brought it up to ``top`` (``RecentHistory._sent``).
    read_number: int = 0

    def covers(self, after: int) -> bool:
        return bool(self.entries) and self.entries[0][0] - 1 <= after

    def since(self, after: int) -> tuple[Position, list[Entry]]:
        return self.top, [entry for entry in self.entries if entry[0] > after]

    def extend(self, entries: list[Entry], history: History) -> int:
        """Add newer frames and trim as the stream is trimmed; the change in bytes."""
        before = self.bytes
        for entry in entries:
            self.entries.append(entry)
            self.bytes += len(entry[1])
        while len(self.entries) > 1 and (len(self.entries) > history.size or self.bytes > history.max_bytes):
            self.bytes -= len(self.entries.popleft()[1])
        return self.bytes - before


def _consecutive(top: Position, entries: list[Entry], first: int | None = None) -> bool:
    """Whether ``entries`` run without a hole up to ``top`` (from ``first`` when given)."""
    if not entries or entries[-1][0] != top.offset or (first is not None and entries[0][0] != first):
        return False
    return entries[-1][0] - entries[0][0] == len(entries) - 1


class RecentHistory:
    """The history reads of one instance, shared by the returning clients of a namespace."""

    def __init__(self, read: BrokerRead, max_bytes: int = MAX_BYTES):
        self._read = read
        self._max_bytes = max_bytes
        self._copies: OrderedDict[str, _Copy] = OrderedDict()  # least recently read first
        self._bytes = 0
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}
        #: Broker reads sent so far, every namespace's: a copy remembers the one it is from.
        self._sent = 0

    @property
    def held(self) -> int:
        """Bytes of frames kept across every namespace."""
        return self._bytes

    async def read(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        """The stream's last position and its frames after ``after``, as the broker's read."""
        arrived = self._sent
        async with self._turn(channel):
            copy = self._copies.get(channel)
            if copy is not None and copy.covers(after) and (
                    copy.read_number > arrived or await self._top_up(channel, copy, history)):
                self._copies.move_to_end(channel)
                return copy.since(after)
            number = self._sent + 1
            top, entries = await self._broker_read(channel, after, history)
            self._keep(channel, top, entries, history, number)
            return top, entries

    async def _broker_read(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        """The broker's read, numbered when sent (``_Copy.read_number``)."""
        self._sent += 1
        return await self._read(channel, after, history)

    async def _top_up(self, channel: str, copy: _Copy, history: History) -> bool:
        """Bring ``copy`` up to the stream's top; ``False`` (and no copy) if it cannot be."""
        newest = copy.entries[-1][0]
        number = self._sent + 1
        top, entries = await self._broker_read(channel, newest - 1, history)
        if top.epoch != copy.top.epoch or not _consecutive(top, entries, first=newest):
            self._drop(channel)
            return False
        copy.top, copy.read_number = top, number
        self._bytes += copy.extend(entries[1:], history)
        self._evict()
        return True

    def _keep(self, channel: str, top: Position, entries: list[Entry], history: History,
              number: int) -> None:
        self._drop(channel)
        if _consecutive(top, entries):
            copy = self._copies[channel] = _Copy(top, read_number=number)
            self._bytes += copy.extend(entries, history)
            self._evict()

    def _drop(self, channel: str) -> None:
        copy = self._copies.pop(channel, None)
        if copy is not None:
            self._bytes -= copy.bytes

    def _evict(self) -> None:
        while self._bytes > self._max_bytes and self._copies:
            self._drop(next(iter(self._copies)))

    @asynccontextmanager
    async def _turn(self, channel: str) -> AsyncIterator[None]:
        """One read of ``channel`` at a time; the lock lives while someone holds or awaits it."""
        lock, users = self._turns.get(channel) or (asyncio.Lock(), 0)
        self._turns[channel] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[channel]
            if users == 1:
                del self._turns[channel]
            else:
                self._turns[channel] = (lock, users - 1)
