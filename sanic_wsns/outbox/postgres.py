"""The outbox on PostgreSQL through psycopg 3 (the ``postgres`` extra): helpers for the
app's own transaction, and the relay's side of the table.

``record`` and ``schedule`` (``record_sync``/``schedule_sync`` for a sync connection: a
worker, a management command) run on the app's connection inside the transaction that
makes the change. ``PostgresOutbox`` runs the relay's statements on a connection of its own
in autocommit mode: each statement is its own transaction, and the claim is one statement
(``FOR UPDATE SKIP LOCKED``), so relays sweeping together never take the same row nor wait
for each other.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import psycopg

from .frame import SCHEDULE_DELAY, Frame, Timing, encode
from .schema import POSTGRES as SCHEMA
from .store import Backlog, Claimed

__all__ = ["SCHEMA", "PostgresOutbox", "record", "record_sync", "schedule", "schedule_sync"]

_INSERT = "INSERT INTO outbox (path, type, data, created) VALUES (%s, %s, %s, %s) RETURNING id"
_REPLACE = ("UPDATE outbox SET type = %s, data = %s WHERE coalesce_key = %s "
            "AND published_at IS NULL AND claimed_by IS NULL")
_INSERT_SCHEDULED = ("INSERT INTO outbox (path, type, data, created, due, coalesce_key) "
                     "VALUES (%s, %s, %s, %s, %s, %s)")

_DUE = "coalesce(due, created + %(grace)s)"
_BACKLOG = (f"SELECT count(*), count(*) FILTER (WHERE {_DUE} <= %(now)s AND (claimed_until IS NULL "
            "OR claimed_until < %(now)s)) FROM outbox WHERE published_at IS NULL")
_CLAIM = f"""
WITH due AS (
    SELECT id, claimed_by AS previous FROM outbox
     WHERE published_at IS NULL AND {_DUE} <= %(now)s
       AND (claimed_until IS NULL OR claimed_until < %(now)s)
     ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
UPDATE outbox SET claimed_by = %(claimer)s, claimed_until = %(until)s FROM due
 WHERE outbox.id = due.id
RETURNING outbox.id, outbox.path, outbox.type, outbox.data, outbox.created,
          outbox.due IS NOT NULL, due.previous IS NOT NULL
"""
_MARK = "UPDATE outbox SET published_at = %s WHERE id = ANY(%s)"
_PRUNE = ("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < %s LIMIT %s "
          "FOR UPDATE SKIP LOCKED)")


# -- inside the app's transaction ----------------------------------------------------------

async def record(db: psycopg.AsyncConnection[Any], path: str, type: str, data: Any) -> Frame:
    """Add the frame announcing a change; call it inside the change's own transaction,
    then hand the frame to ``Relay.announce`` once committed."""
    payload, now = encode(data), time.time()
    cursor = await db.execute(_INSERT, (path, type, payload.decode(), now))
    row = await cursor.fetchone()
    assert row is not None  # INSERT ... RETURNING returns its row
    return Frame(row[0], path, type, msgspec.Raw(payload), now)


def record_sync(db: psycopg.Connection[Any], path: str, type: str, data: Any) -> Frame:
    """``record`` for a sync connection."""
    payload, now = encode(data), time.time()
    row = db.execute(_INSERT, (path, type, payload.decode(), now)).fetchone()
    assert row is not None  # INSERT ... RETURNING returns its row
    return Frame(row[0], path, type, msgspec.Raw(payload), now)


async def schedule(db: psycopg.AsyncConnection[Any], path: str, type: str, data: Any, *,
                   coalesce: str, delay: float = SCHEDULE_DELAY) -> None:
    """As ``sqlite.schedule``: a frame for a sweep to publish in ``delay`` seconds, or in
    the place of the one still waiting unclaimed under ``coalesce``."""
    payload = encode(data).decode()
    if (await db.execute(_REPLACE, (type, payload, coalesce))).rowcount:
        return
    now = time.time()
    await db.execute(_INSERT_SCHEDULED, (path, type, payload, now, now + delay, coalesce))


def schedule_sync(db: psycopg.Connection[Any], path: str, type: str, data: Any, *,
                  coalesce: str, delay: float = SCHEDULE_DELAY) -> None:
    """``schedule`` for a sync connection."""
    payload = encode(data).decode()
    if db.execute(_REPLACE, (type, payload, coalesce)).rowcount:
        return
    now = time.time()
    db.execute(_INSERT_SCHEDULED, (path, type, payload, now, now + delay, coalesce))


# -- the relay's side ------------------------------------------------------------------------

class PostgresOutbox:
    """The relay's side of a PostgreSQL outbox table (an ``OutboxStore``), on one
    connection of its own (``conninfo`` as psycopg takes it), opened when first needed and
    opened again after it broke. ``close`` when done."""

    def __init__(self, conninfo: str):
        self._conninfo = conninfo
        self._db: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    async def _run(self, query: str, params: Any) -> psycopg.AsyncCursor[Any]:
        async with self._lock:
            if self._db is None or self._db.closed:
                self._db = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            return await self._db.execute(query, params)

    async def backlog(self, now: float, timing: Timing) -> Backlog:
        row = await (await self._run(_BACKLOG, {"now": now, "grace": timing.grace})).fetchone()
        assert row is not None  # an aggregate returns one row
        return Backlog(row[0], row[1])

    async def claim(self, claimer: str, now: float, timing: Timing) -> Claimed:
        cursor = await self._run(_CLAIM, {"now": now, "grace": timing.grace, "limit": timing.batch,
                                          "claimer": claimer, "until": now + timing.lease})
        rows = await cursor.fetchall()
        frames = sorted((Frame(r[0], r[1], r[2], msgspec.Raw(r[3].encode()), r[4], r[5]) for r in rows),
                        key=lambda frame: frame.id)
        return Claimed(frames, sum(bool(r[6]) for r in rows))

    async def mark_published(self, ids: list[int], now: float) -> None:
        await self._run(_MARK, (now, ids))

    async def prune(self, before: float, limit: int) -> int:
        return (await self._run(_PRUNE, (before, limit))).rowcount

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
