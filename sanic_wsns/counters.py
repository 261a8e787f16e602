"""Traffic counters of a namespace, and their instance totals for ``wsns.stats()``."""

from __future__ import annotations

from typing import Any


class Counters:
    """Messages in and out, and messages dropped by reason (``slow_consumer``,
    ``rate_limited``, ``backlog_full``, ``handler_error``)."""

    __slots__ = ("messages_in", "messages_out", "dropped")

    def __init__(self) -> None:
        self.messages_in = 0
        self.messages_out = 0
        self.dropped: dict[str, int] = {}

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def merge(self, other: Counters) -> None:
        """Add ``other``'s counts to these (instance totals over live and dropped namespaces)."""
        self.messages_in += other.messages_in
        self.messages_out += other.messages_out
        for reason, count in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {"messages_in": self.messages_in, "messages_out": self.messages_out,
                "dropped": dict(self.dropped)}
