"""Presence without I/O: an instance's mirror of who is in a namespace, and its frames.

The shared truth lives in the broker (Redis: a hash of entries and a sorted set of expiry
times per namespace). Each instance hosting a presence namespace keeps a **mirror** of it:
read once when the namespace is created, then kept current by the diffs every instance
publishes on the namespace's channel. The mirror does two jobs:

* a joining client's ``presence_state`` comes from it, not from a broker read per connect
  (a thousand clients joining at once cost one read, not a thousand);
* it turns every diff into the transitions its clients have not seen yet, so a join or a
  leave heard twice (an instance re-adding its clients after a Redis restart, a sweep and a
  goodbye racing) reaches each client once.

Local joins and leaves are gathered for a short window (``PresenceBatch``) and go out as one
diff, so N clients joining at once cost about N frames per window instead of N².
An entry's value is the client's public identity, already encoded as JSON: the mirror never
decodes it, and frames are assembled from those bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

#: Entries in one ``presence_state`` frame; past it the frame is cut and says so
#: (``"truncated": true``), so one crowded namespace cannot fill every joiner's send queue.
STATE_LIMIT = 1_000

#: Client id → public identity as JSON bytes.
Entries = dict[str, bytes]


@dataclass(slots=True)
class Diff:
    """Who arrived and who left; a leave keeps the identity the client was shown."""

    joins: Entries = field(default_factory=dict)
    leaves: Entries = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.joins or self.leaves)


class PresenceMirror:
    """One instance's copy of a namespace's presence."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, bytes] | None = None):
        self._entries: Entries = dict(entries or {})

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._entries

    @property
    def entries(self) -> Mapping[str, bytes]:
        return self._entries

    def apply(self, joins: Iterable[tuple[str, bytes]], leaves: Iterable[str]) -> Diff:
        """Apply a diff heard from the broker; return what changed (joins first, then leaves,
        as the diff was made: an id both joining and leaving ends absent).

        A join of an id already present with another value is a presence update
        (``client.update_presence``): it overwrites, and is reported as a join of the same
        id, never as a leave. The same value heard twice changes nothing."""
        entries, changed = self._entries, Diff()
        shown: dict[str, bytes | None] = {}  # id → what clients were shown before this diff
        for client_id, public in joins:
            before = entries.get(client_id)
            if before != public:
                shown.setdefault(client_id, before)
                entries[client_id] = public
                changed.joins[client_id] = public
        for client_id in leaves:
            left = entries.pop(client_id, None)
            if left is None:
                continue
            changed.joins.pop(client_id, None)
            before = shown.get(client_id, left)
            if before is not None:  # None: it came and went within this diff
                changed.leaves[client_id] = before
        return changed

    def replace(self, entries: Mapping[str, bytes]) -> Diff:
        """Take the broker's whole state (after an outage): what changed meanwhile."""
        current = self._entries
        changed = Diff(
            joins={k: v for k, v in entries.items() if current.get(k) != v},
            leaves={k: v for k, v in current.items() if k not in entries},
        )
        self._entries = dict(entries)
        return changed


class PresenceBatch:
    """The local joins, updates and leaves of one namespace not yet written to the broker.

    Client ids are unique per connection, so an id joins at most once and leaves at most
    once: a client that joins and leaves inside one window is never announced. An update
    (``client.update_presence``) of a client whose join is still pending just changes
    that join; one of an announced client is announced as a join of the same id.
    """

    __slots__ = ("joins", "updates", "leaves")

    def __init__(self) -> None:
        self.joins: Entries = {}
        self.updates: Entries = {}
        self.leaves: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.joins or self.updates or self.leaves)

    def join(self, client_id: str, public: bytes) -> None:
        self.joins[client_id] = public

    def update(self, client_id: str, public: bytes) -> None:
        if client_id in self.joins:
            self.joins[client_id] = public
        else:
            self.updates[client_id] = public

    def leave(self, client_id: str) -> None:
        self.updates.pop(client_id, None)
        if self.joins.pop(client_id, None) is None:
            self.leaves.append(client_id)


_encode = msgspec.json.encode


def encode_state(entries: Mapping[str, bytes], limit: int = STATE_LIMIT) -> bytes:
    """``{"type":"presence_state","data":{id: public, …}}``, cut at ``limit`` entries with a
    top-level ``"truncated": true``."""
    items = list(entries.items())
    body = _object(items[:limit])
    tail = b',"truncated":true}' if len(items) > limit else b"}"
    return b'{"type":"presence_state","data":' + body + tail


def encode_diff(diff: Diff) -> bytes:
    """``{"type":"presence_diff","data":{"joins":{…},"leaves":{…}}}``."""
    return (b'{"type":"presence_diff","data":{"joins":' + _object(diff.joins.items())
            + b',"leaves":' + _object(diff.leaves.items()) + b"}}")


def _object(items: Iterable[tuple[str, bytes]]) -> bytes:
    """A JSON object from keys and already-encoded values."""
    return b"{" + b",".join(_encode(key) + b":" + value for key, value in items) + b"}"
