"""Every instance-wide counter, in one object that alone writes them.

The hub, the feeds (``resync`` frames) and the admission path count here through methods,
so no module writes another's dict; ``stats()`` and the metrics snapshot read it. A
namespace's own traffic stays in its ``Counters`` (``counters.py``): what a namespace that
is dropped had counted is kept here, by pattern (``retire``).
"""

from __future__ import annotations

from collections.abc import Iterable

from .counters import Counters


class InstanceStats:
    """Connections accepted and refused, broker payloads for no hosted namespace, resyncs
    and recoveries, and the traffic of namespaces no longer hosted."""

    __slots__ = ("accepted", "refused", "refused_codes", "unhosted_payloads", "resyncs",
                 "recoveries", "_retired")

    def __init__(self) -> None:
        self.accepted = 0
        #: Refused connections by reason name, and by close code (for metrics).
        self.refused: dict[str, int] = {}
        self.refused_codes: dict[int, int] = {}
        #: Broker payloads for a channel no namespace is hosted on here (a lingering
        #: subscription, or one being released): the bench watches this one.
        self.unhosted_payloads = 0
        #: ``resync`` frames sent, by reason; returning clients, by result.
        self.resyncs: dict[str, int] = {}
        self.recoveries: dict[str, int] = {}
        #: Counts of namespaces no longer hosted, by pattern.
        self._retired: dict[str, Counters] = {}

    def accept(self) -> None:
        self.accepted += 1

    def refuse(self, name: str, code: int) -> None:
        """One refused connection, under its reason's name and its close code."""
        self.refused[name] = self.refused.get(name, 0) + 1
        self.refused_codes[code] = self.refused_codes.get(code, 0) + 1

    def unhosted(self) -> None:
        self.unhosted_payloads += 1

    def resync(self, reason: str) -> None:
        """One ``resync`` frame sent (to a namespace's clients, or to one client)."""
        self.resyncs[reason] = self.resyncs.get(reason, 0) + 1

    def recovery(self, result: str) -> None:
        """A returning client ``recovered``, or was told to ``resync``."""
        self.recoveries[result] = self.recoveries.get(result, 0) + 1

    def retire(self, pattern: str, counters: Counters) -> None:
        """Keep what a dropped namespace of ``pattern`` had counted."""
        self._retired.setdefault(pattern, Counters()).merge(counters)

    def by_pattern(self, live: Iterable[tuple[str, Counters]]) -> dict[str, Counters]:
        """Message counts since start, ``live`` namespaces' (pattern, counters) and dropped
        ones together, by pattern."""
        totals = {pattern: Counters() for pattern in self._retired}
        for pattern, retired in self._retired.items():
            totals[pattern].merge(retired)
        for pattern, counters in live:
            totals.setdefault(pattern, Counters()).merge(counters)
        return totals
