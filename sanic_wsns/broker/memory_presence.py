"""In-process presence for ``memory://``: the same promises as the Redis presence scripts.

Per channel, entries (client id → public JSON) with an expiry time each: ``add`` refreshes
and says which ids were new, ``remove`` says which were there, ``expire`` hands each
expired id to exactly one caller. Within one process this only matters for several
``WsNamespaces`` sharing a URL (tests, or two apps in one process); the rules are the
Redis ones so that the hub needs no second code path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from ..occupancy import Change, Status, status
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


class MemoryOccupancy:
    """``occupancy.OccupancyStore`` in-process, with the Redis scripts' rules (lua/)."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._counts: dict[str, dict[str, int]] = {}  # channel → instance → connections
        self._users: dict[str, dict[str, int]] = {}  # channel → user → instances holding it
        self._held: dict[tuple[str, str], set[str]] = {}  # (channel, instance) → users
        self._instances: dict[str, dict[str, float]] = {}  # deployment → instance → expiry
        self._leases: dict[str, dict[str, float]] = {}  # deployment → dead instance → lease end
        self._holdings: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        self._seen: dict[tuple[str, str], dict[str, float]] = {}  # (deployment, user) → ...
        self._kept: dict[tuple[str, str], float] = {}  # (deployment, user) → key expiry

    async def occupy(self, channel: str, instance: str, connections: int,
                     gained: list[str], lost: list[str], full: bool = False) -> bool:
        counts = self._counts.setdefault(channel, {})
        was = len(counts)
        counts[instance] = connections
        held = self._held.setdefault((channel, instance), set())
        users = self._users.setdefault(channel, {})
        if full:
            lost = [u for u in held if u not in gained]
        for user in gained:
            if user not in held:
                held.add(user)
                users[user] = users.get(user, 0) + 1
        for user in lost:
            if user in held:
                held.discard(user)
                _release(users, user)
        return was == 0

    async def vacate(self, channel: str, instance: str) -> bool:
        counts = self._counts.get(channel, {})
        if counts.pop(instance, None) is None:
            return False
        users = self._users.get(channel, {})
        for user in self._held.pop((channel, instance), set()):
            _release(users, user)
        if counts:
            return False
        self._counts.pop(channel, None)
        self._users.pop(channel, None)
        return True

    async def count(self, channel: str) -> tuple[int, int]:
        return sum(self._counts.get(channel, {}).values()), len(self._users.get(channel, {}))

    async def hold(self, deployment: str, instance: str, lifetime: float, namespaces: Change,
                   users: Change) -> bool:
        every = self._instances.setdefault(deployment, {})
        absent = instance not in every
        every[instance] = self._clock() + lifetime
        held_ns, held_users = self._holdings.setdefault((deployment, instance), (set(), set()))
        held_ns.update(namespaces[0])
        held_ns.difference_update(namespaces[1])
        held_users.update(users[0])
        held_users.difference_update(users[1])
        return absent

    async def claim(self, deployment: str, lease: float, limit: int) -> list[tuple[str, float]]:
        every, now = self._instances.get(deployment, {}), self._clock()
        leases = self._leases.setdefault(deployment, {})
        for instance in [i for i, end in leases.items() if end <= now]:
            del leases[instance]
        dead = sorted(((i, at) for i, at in every.items() if at <= now and i not in leases),
                      key=lambda e: e[1])[:limit]
        for instance, _ in dead:
            leases[instance] = now + lease
        return dead

    async def holdings(self, deployment: str, instance: str) -> tuple[list[str], list[str]]:
        held_ns, held_users = self._holdings.get((deployment, instance), (set(), set()))
        return sorted(held_ns), sorted(held_users)

    async def forget(self, deployment: str, instance: str) -> None:
        self._instances.get(deployment, {}).pop(instance, None)
        self._leases.get(deployment, {}).pop(instance, None)
        self._holdings.pop((deployment, instance), None)

    async def seen(self, deployment: str, user: str, instance: str, holds: bool,
                   at: float | None, keep: float) -> None:
        key = (deployment, user)
        entries = self._seen.setdefault(key, {})
        if holds:
            entries[instance] = math.inf
            self._kept.pop(key, None)
            return
        at = self._clock() if at is None else at
        entries.pop(instance, None)
        released = [score for score in entries.values() if score != math.inf]
        if not released or max(released) < at:
            for other in [i for i, score in entries.items() if score != math.inf]:
                del entries[other]
            entries[instance] = at
        if math.inf not in entries.values():
            self._kept[key] = self._clock() + keep

    async def online(self, deployment: str, users: list[str], lifetime: float) -> dict[str, Status]:
        now, every = self._clock(), self._instances.get(deployment, {})
        found: dict[str, Status] = {}
        for user in users:
            key = (deployment, user)
            if self._kept.get(key, math.inf) <= now:  # past retention: forgotten, as a key expires
                self._seen.pop(key, None)
                self._kept.pop(key, None)
            entries = self._seen.get(key, {})
            scored = [(i, "inf" if s == math.inf else str(int(s * 1000))) for i, s in entries.items()]
            expiries = {i: every.get(i, -1.0) for i, s in entries.items() if s == math.inf}
            found[user] = status(scored, expiries, now, lifetime)
        return found


def _release(users: dict[str, int], user: str) -> None:
    left = users.get(user, 0) - 1
    if left > 0:
        users[user] = left
    else:
        users.pop(user, None)
