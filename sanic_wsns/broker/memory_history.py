"""In-process history for ``memory://``: the same promises as the Redis scripts, without I/O.

Per channel: an epoch, the last offset, and the last ``size`` frames (at most ``max_bytes``
of them, the newest always kept), which expire ``ttl``
seconds after the channel's last publish (like ``EXPIRE`` on a Redis stream); the epoch
and offset expire ``meta_ttl`` after the last publish or read, and a publish after that
starts a new epoch. Across channels the frames held are capped (``max_entries``): past
it the frames of the least recently used channels go first, so memory stays bounded by
the cap, not by the number of namespaces ever seen.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ..history import History, new_epoch
from ..recovery import Entry, Position

#: Frames kept across every channel of one process (about 100 namespaces at full size).
MAX_ENTRIES = 10_000


class _Stream:
    __slots__ = ("epoch", "offset", "entries", "bytes", "published", "touched", "ttl", "meta_ttl")

    def __init__(self, epoch: str, history: History, now: float):
        self.epoch = epoch
        self.offset = 0
        self.entries: deque[Entry] = deque()
        self.bytes = 0  # of the frames in ``entries``
        self.published = now
        self.touched = now
        self.ttl = history.ttl
        self.meta_ttl = history.meta_ttl


class MemoryHistory:
    """Offsets, epochs and bounded history for every channel of one process."""

    def __init__(self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic):
        self._streams: OrderedDict[str, _Stream] = OrderedDict()  # least recently touched first
        self._held = 0
        self._max_entries = max_entries
        self._clock = clock

    @property
    def held(self) -> int:
        """Frames held across every channel."""
        return self._held

    @property
    def channels(self) -> int:
        """Channels whose epoch is still remembered."""
        return len(self._streams)

    def append(self, channel: str, frame_head: bytes, history: History) -> tuple[Position, bytes]:
        """Give the next offset to a frame and keep it.

        ``frame_head`` is an encoded frame without its closing ``}``; the kept (and
        returned) frame is ``frame_head + ,"offset":N}``, the bytes every client gets.
        """
        now = self._clock()
        stream = self._touch(channel, history, now)
        if now - stream.published > stream.ttl:
            self._forget_entries(stream)
        stream.offset += 1
        stream.published = now
        stream.ttl, stream.meta_ttl = history.ttl, history.meta_ttl
        frame = b'%s,"offset":%d}' % (frame_head, stream.offset)
        stream.entries.append((stream.offset, frame))
        stream.bytes += len(frame)
        self._held += 1
        entries = stream.entries
        while len(entries) > 1 and (len(entries) > history.size or stream.bytes > history.max_bytes):
            stream.bytes -= len(entries.popleft()[1])
            self._held -= 1
        self._evict(keep=stream)
        self._prune(now)
        return Position(stream.offset, stream.epoch), frame

    def read(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        """The channel's last position and its kept frames with an offset above ``after``."""
        now = self._clock()
        stream = self._touch(channel, history, now)
        if now - stream.published > stream.ttl:
            self._forget_entries(stream)
        return Position(stream.offset, stream.epoch), [e for e in stream.entries if e[0] > after]

    def _touch(self, channel: str, history: History, now: float) -> _Stream:
        stream = self._streams.get(channel)
        if stream is not None and now - stream.touched > stream.meta_ttl:
            self._forget_entries(stream)
            stream = None
        if stream is None:
            stream = self._streams[channel] = _Stream(new_epoch(), history, now)
        self._streams.move_to_end(channel)
        stream.touched = now
        return stream

    def _forget_entries(self, stream: _Stream) -> None:
        self._held -= len(stream.entries)
        stream.entries.clear()
        stream.bytes = 0

    def _evict(self, keep: _Stream) -> None:
        for stream in self._streams.values():
            if self._held <= self._max_entries:
                return
            if stream is not keep:
                self._forget_entries(stream)

    def _prune(self, now: float) -> None:
        """Drop channels whose epoch expired: they sit at the front, so this is cheap."""
        while self._streams:
            channel, stream = next(iter(self._streams.items()))
            if now - stream.touched <= stream.meta_ttl:
                return
            self._forget_entries(stream)
            del self._streams[channel]
