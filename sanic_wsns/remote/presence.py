"""Who is in the namespace, without I/O (wsns.js's ``PresenceState``): client id → public
identity, replaced by each ``presence_state`` and changed by each ``presence_diff``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class PresenceChange:
    """What one presence frame changed: client id → public identity. ``joins`` also holds
    present clients whose public value changed (the server's ``update_presence``: the new
    value overwrites, and no leave comes with it)."""

    joins: dict[str, Any] = field(default_factory=dict)
    leaves: dict[str, Any] = field(default_factory=dict)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class PresenceState:
    def __init__(self) -> None:
        self._members: dict[str, Any] = {}
        #: A live read-only view: the same object for the namespace's whole life.
        self.members: Mapping[str, Any] = MappingProxyType(self._members)
        #: The last state was cut at the server's limit: some members are missing.
        self.truncated = False

    def reset(self, entries: Any, truncated: bool) -> PresenceChange:
        """A full state (on every connect): replaces the members; returns the difference."""
        fresh = _object(entries)
        leaves = {cid: public for cid, public in self._members.items() if cid not in fresh}
        joins = {cid: public for cid, public in fresh.items() if cid not in self._members}
        self._members.clear()
        self._members.update(fresh)
        self.truncated = truncated
        return PresenceChange(joins, leaves)

    def apply(self, diff: Any) -> PresenceChange:
        """A diff: joins first, then leaves, so a client that came and went within one diff
        ends up absent."""
        data = _object(diff)
        joins, leaves = _object(data.get("joins")), _object(data.get("leaves"))
        self._members.update(joins)
        for cid in leaves:
            self._members.pop(cid, None)
        return PresenceChange(joins, leaves)
