"""``Store``: bubblemap's SQLite connection on a thread of its own, and what it enforces.

WAL lets readers and one writer work at once across processes; ``busy_timeout`` makes a
writer wait for another instance's transaction instead of failing; every write is one
``BEGIN IMMEDIATE`` transaction (``write``), so a read-check-write (the version check of
an update) cannot interleave with another instance's write. Every call runs on one
dedicated thread that owns the connection, so the event loop never waits on the disk or
on a lock. The statements are plain functions over a connection (``users``, ``maps``,
``bubbles``), run by ``read`` or ``write``, as the library's outbox does it; the store is
also the outbox relay's ``Runner``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sanic_wsns.outbox import sqlite as outbox

from .. import budgets, migrations
from ..throttle import Rate
from .schema import SCHEMA

T = TypeVar("T")


@dataclass
class Policy:
    """What the write statements enforce; ``None``: unlimited."""

    bubbles_per_map: int | None = None
    members_per_map: int | None = None
    #: Each account's bubble edits, across its connections and every instance (``budgets.py``).
    edits: Rate | None = None
    #: Maps one account may own, and how fast it may create them (across instances, like
    #: ``edits``).
    maps_per_user: int | None = None
    map_creations: Rate | None = None
    #: Test hook: called inside an update's transaction between reading the bubble and
    #: writing it, so a test can hold two writers at that point (a forced interleaving).
    between_read_and_write: Callable[[], None] | None = None


class Store:
    """bubblemap's database. Build it, ``await open()``, ``read``/``write``, ``close()``."""

    def __init__(self, path: str | Path, policy: Policy | None = None):
        self.path = str(path)
        self.policy = policy or Policy()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bubblemap-db")
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(db, *args)`` on the store's thread (reads only)."""
        return await self._run(fn, self.db, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(db, *args)`` on the store's thread, in one write transaction (rolled back
        if ``fn`` raises)."""
        return await self._run(self._in_write, fn, *args)

    def _in_write(self, fn: Callable[..., T], *args: Any) -> T:
        with outbox.write_transaction(self.db) as db:
            return fn(db, *args)

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 10000")
        _enable_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        self._db = db
        self._in_write(_create_tables)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self.db.close)
            self._db = None
        self._executor.shutdown(wait=True)


def _create_tables(db: sqlite3.Connection) -> None:
    for statement in _statements(SCHEMA):
        db.execute(statement)
    migrations.migrate(db)
    for statement in _statements(outbox.SCHEMA + budgets.SCHEMA):
        db.execute(statement)


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one by one (a trigger's body has ``;`` inside it)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


def _enable_wal(db: sqlite3.Connection, attempts: int = 100, pause: float = 0.02) -> None:
    """Switch a database to WAL, waiting for other instances doing the same.

    The switch takes an exclusive lock, and SQLite does not apply ``busy_timeout`` to it:
    instances opening one new file together got "database is locked" at start.
    """
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(pause)
