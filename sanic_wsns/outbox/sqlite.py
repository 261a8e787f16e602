"""The outbox on SQLite (``sqlite3``): helpers for the app's own transaction, and the
relay's side of the table.

``record`` and ``schedule`` run on the app's connection inside the transaction that makes
the change, so the frame is committed with it or not at all. ``SQLiteOutbox`` runs the
relay's statements through a ``Runner``: the app's own (one thread and connection for
its store, as bubblemap has) or ``SQLiteFile``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from .frame import SCHEDULE_DELAY, Frame, Timing, encode
from .schema import SQLITE as SCHEMA
from .store import Backlog, Claimed

__all__ = ["SCHEMA", "Runner", "SQLiteFile", "SQLiteOutbox", "record", "schedule"]

T = TypeVar("T")

#: When a row is due for a sweep: a scheduled one at its ``due``, any other after the grace.
_DUE = "coalesce(due, created + :grace)"
_CLAIMABLE = (f"published_at IS NULL AND {_DUE} <= :now "
              "AND (claimed_until IS NULL OR claimed_until < :now)")


# -- inside the app's transaction ----------------------------------------------------------

def record(db: sqlite3.Connection, path: str, type: str, data: Any) -> Frame:
    """Add the frame announcing a change; call it inside the change's own transaction,
    then hand the frame to ``Relay.announce`` once committed."""
    payload, now = encode(data), time.time()
    cursor = db.execute("INSERT INTO outbox (path, type, data, created) VALUES (?, ?, ?, ?)",
                        (path, type, payload.decode(), now))
    return Frame(cursor.lastrowid or 0, path, type, msgspec.Raw(payload), now)


def schedule(db: sqlite3.Connection, path: str, type: str, data: Any, *, coalesce: str,
             delay: float = SCHEDULE_DELAY) -> None:
    """Add a frame for a sweep to publish in ``delay`` seconds, or, if a frame under
    ``coalesce`` is still waiting unclaimed, put this one in its place (same ``path``).
    Call it inside the change's own transaction. Once claimed, a row is never changed:
    the next change adds a new one, so no change is ever left unpublished."""
    payload = encode(data).decode()
    if db.execute("UPDATE outbox SET type = ?, data = ? WHERE coalesce_key = ? "
                  "AND published_at IS NULL AND claimed_by IS NULL", (type, payload, coalesce)).rowcount:
        return
    now = time.time()
    db.execute("INSERT INTO outbox (path, type, data, created, due, coalesce_key) "
               "VALUES (?, ?, ?, ?, ?, ?)", (path, type, payload, now, now + delay, coalesce))


# -- the relay's statements (each run in a write transaction but ``backlog``) ---------------

def backlog(db: sqlite3.Connection, now: float, timing: Timing) -> Backlog:
    """A plain read: no write lock while the relay is idle."""
    pending, claimable = db.execute(
        f"SELECT count(*), coalesce(sum({_DUE} <= :now AND (claimed_until IS NULL "
        "OR claimed_until < :now)), 0) FROM outbox WHERE published_at IS NULL",
        {"now": now, "grace": timing.grace}).fetchone()
    return Backlog(pending, claimable)


def claim(db: sqlite3.Connection, claimer: str, now: float, timing: Timing) -> Claimed:
    """Take up to ``timing.batch`` overdue rows for ``timing.lease``, oldest first. Run in a
    write transaction, so two relays sweeping together never take the same row."""
    params = {"now": now, "grace": timing.grace, "limit": timing.batch}
    due = db.execute(f"SELECT id, claimed_by FROM outbox WHERE {_CLAIMABLE} ORDER BY id LIMIT :limit",
                     params).fetchall()
    if not due:
        return Claimed([], 0)
    ids = [row[0] for row in due]
    rows = db.execute(
        f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN ({', '.join('?' * len(ids))}) "
        "RETURNING id, path, type, data, created, due IS NOT NULL",
        (claimer, now + timing.lease, *ids)).fetchall()
    frames = sorted((Frame(r[0], r[1], r[2], msgspec.Raw(r[3].encode()), r[4], bool(r[5])) for r in rows),
                    key=lambda frame: frame.id)
    return Claimed(frames, sum(row[1] is not None for row in due))


def mark_published(db: sqlite3.Connection, ids: list[int], now: float) -> None:
    db.execute(f"UPDATE outbox SET published_at = ? WHERE id IN ({', '.join('?' * len(ids))})",
               (now, *ids))


def prunable(db: sqlite3.Connection, before: float) -> bool:
    """Whether ``prune`` would delete anything (a plain read: no write lock while idle)."""
    return db.execute("SELECT 1 FROM outbox WHERE published_at < ? LIMIT 1", (before,)).fetchone() is not None


def prune(db: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` rows published before ``before``."""
    return db.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < ? "
                      "LIMIT ?)", (before, limit)).rowcount


# -- running them ------------------------------------------------------------------------------

class Runner(Protocol):
    """Runs ``fn(db, *args)`` on a connection: ``read`` as is, ``write`` in one write
    transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if ``fn`` raises)."""

    async def read(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def write(self, fn: Callable[..., T], *args: Any) -> T: ...


class SQLiteOutbox:
    """The relay's side of an SQLite outbox table (an ``OutboxStore``)."""

    def __init__(self, runner: Runner):
        self._runner = runner

    async def backlog(self, now: float, timing: Timing) -> Backlog:
        return await self._runner.read(backlog, now, timing)

    async def claim(self, claimer: str, now: float, timing: Timing) -> Claimed:
        return await self._runner.write(claim, claimer, now, timing)

    async def mark_published(self, ids: list[int], now: float) -> None:
        await self._runner.write(mark_published, ids, now)

    async def prune(self, before: float, limit: int) -> int:
        if not await self._runner.read(prunable, before):
            return 0
        return await self._runner.write(prune, before, limit)


class SQLiteFile:
    """A ``Runner`` on a database file: one connection on one thread of its own, for a
    relay whose app has no runner to share. ``close`` when done."""

    def __init__(self, path: str | Path, busy_timeout: float = 5.0):
        self._path, self._busy_timeout = path, busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wsns-outbox-db")
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self._path, isolation_level=None, timeout=self._busy_timeout)
        return self._db

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(lambda: fn(self._connection(), *args))

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        def in_transaction() -> T:
            with write_transaction(self._connection()) as db:
                return fn(db, *args)
        return await self._run(in_transaction)

    async def close(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await self._run(close)
        self._executor.shutdown(wait=True)


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception: the transaction to
    ``record`` frames in with the change they announce (the write lock is taken at once, so
    two instances on one file never deadlock upgrading a read)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
