"""In-process presence for ``memory://``: the same promises as the Redis presence scripts.

Per channel, entries (client id → public JSON) with an expiry time each: ``add`` refreshes
and says which ids were new, ``remove`` says which were there, ``expire`` hands each
expired id to exactly one caller. Within one process this only matters for several
``WsNamespaces`` sharing a URL (tests, or two apps in one process); the rules are the
Redis ones so that the hub needs no second code path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ..presence import Entries


class _Channel:
    __slots__ = ("entries", "expiry")

    def __init__(self) -> None:
        self.entries: Entries = {}
        self.expiry: dict[str, float] = {}


class MemoryPresence:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._channels: dict[str, _Channel] = {}
        self._clock = clock

    def add(self, channel: str, entries: Iterable[tuple[str, bytes]], ttl: float) -> list[str]:
        """Add or refresh entries for ``ttl`` seconds; return the ids that were not present."""
        state = self._channels.setdefault(channel, _Channel())
        expires = self._clock() + ttl
        joined = []
        for client_id, public in entries:
            if client_id not in state.entries:
                joined.append(client_id)
            state.entries[client_id] = public
            state.expiry[client_id] = expires
        return joined

    def remove(self, channel: str, client_ids: Iterable[str]) -> list[str]:
        """Remove entries; return the ids that were present."""
        state = self._channels.get(channel)
        if state is None:
            return []
        left = [c for c in client_ids if state.entries.pop(c, None) is not None]
        for client_id in left:
            del state.expiry[client_id]
        self._forget_if_empty(channel, state)
        return left

    def expire(self, channel: str, limit: int) -> list[str]:
        """Remove up to ``limit`` entries whose expiry passed; return their ids."""
        state = self._channels.get(channel)
        if state is None:
            return []
        now = self._clock()
        expired = [c for c, at in state.expiry.items() if at <= now][:limit]
        for client_id in expired:
            del state.entries[client_id], state.expiry[client_id]
        self._forget_if_empty(channel, state)
        return expired

    def get(self, channel: str) -> Entries:
        """The entries not yet expired."""
        state = self._channels.get(channel)
        if state is None:
            return {}
        now = self._clock()
        return {c: p for c, p in state.entries.items() if state.expiry[c] > now}

    def _forget_if_empty(self, channel: str, state: _Channel) -> None:
        if not state.entries:
            del self._channels[channel]
