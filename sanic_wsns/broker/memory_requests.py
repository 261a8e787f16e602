"""Request keys for ``memory://``: what ``RedisBroker`` keeps in Redis, in one dict.

Every key lives ``window`` seconds from its claim; all keys of a process share one window,
so insertion order is expiry order and expired keys are dropped from the front on every
claim: memory holds the keys of the last window only (see docs/exactly-once.md for the
arithmetic).
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: What is kept for a key whose first run has not answered yet (an answer is a JSON frame,
#: never empty).
RUNNING = b""


class MemoryRequests:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: (channel, name) -> (expires at, what is kept: ``RUNNING`` or the answer)
        self._kept: dict[tuple[str, str], tuple[float, bytes]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def claim(self, channel: str, name: str, window: float) -> bytes | None:
        now = self._clock()
        self._expire(now)
        kept = self._kept.get((channel, name))
        if kept is not None:
            return kept[1]
        self._kept[(channel, name)] = (now + window, RUNNING)
        return None

    def kept(self, channel: str, name: str) -> bytes | None:
        """What is kept for the key (``RUNNING`` or its answer), without claiming it."""
        self._expire(self._clock())
        kept = self._kept.get((channel, name))
        return None if kept is None else kept[1]

    def settle(self, channel: str, name: str, answer: bytes) -> None:
        slot = (channel, name)
        kept = self._kept.get(slot)
        if kept is not None:  # not expired meanwhile: the answer keeps the claim's expiry
            self._kept[slot] = (kept[0], answer)

    def release(self, channel: str, name: str) -> None:
        """Forget a claim whose request never ran; a kept answer stays."""
        slot = (channel, name)
        kept = self._kept.get(slot)
        if kept is not None and kept[1] == RUNNING:
            del self._kept[slot]

    def _expire(self, now: float) -> None:
        kept = self._kept
        while kept:
            slot = next(iter(kept))
            if kept[slot][0] > now:
                return
            del kept[slot]
