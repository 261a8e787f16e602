"""What the relay needs of the database holding the outbox table, whatever the driver."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from .frame import Frame, Timing


class Backlog(NamedTuple):
    """Unpublished rows: how many, and how many a sweep may claim now."""

    pending: int
    claimable: int


class Claimed(NamedTuple):
    """Rows a sweep claimed; ``taken_over`` of them had a claim that lapsed (their claimer
    died, or could not publish or mark them within its lease)."""

    frames: list[Frame]
    taken_over: int


class OutboxStore(Protocol):
    """The outbox table's operations a relay runs, each in a transaction of its own.
    ``sqlite.SQLiteOutbox`` and ``postgres.PostgresOutbox`` implement it."""

    async def backlog(self, now: float, timing: Timing) -> Backlog: ...

    async def claim(self, claimer: str, now: float, timing: Timing) -> Claimed: ...

    async def mark_published(self, ids: list[int], now: float) -> None: ...

    async def prune(self, before: float, limit: int) -> int: ...
