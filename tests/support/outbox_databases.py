"""The outbox's two databases for tests, named by URL: ``sqlite:///<file>`` or a
``postgresql://`` URL (tests.support.postgres_server). The relay's store for a URL, and
what the tests do to the table as the app (or an operator) would: commit or roll back a
frame, shut the gate that makes marking a row published fail, read the rows."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import psycopg

from sanic_wsns import WsNamespaces
from sanic_wsns.outbox import Frame, OutboxStore, Relay, Timing, postgres, sqlite

#: Short enough for a test to see a lease lapse; a tick well under both.
TIMING = Timing(grace=0.3, lease=2.0, tick=0.1, confirm_timeout=2.0)

#: Marking a row published fails while ``mark_gate`` has a row: the window between a
#: relay's publish and its mark, held open for as long as a test needs.
SQLITE_GATE = """
CREATE TABLE mark_gate (shut INTEGER);
CREATE TRIGGER mark_gated BEFORE UPDATE OF published_at ON outbox
WHEN EXISTS (SELECT 1 FROM mark_gate) BEGIN SELECT RAISE(ABORT, 'marking is gated'); END;
"""
POSTGRES_GATE = """
CREATE TABLE mark_gate (shut INTEGER);
CREATE FUNCTION mark_gated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM mark_gate) THEN RAISE EXCEPTION 'marking is gated'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER mark_gated BEFORE UPDATE OF published_at ON outbox
FOR EACH ROW EXECUTE FUNCTION mark_gated();
"""


def relay(wsns: WsNamespaces, url: str, claimer: str) -> tuple[Relay, Any]:
    """A relay (``TIMING``) on ``url`` publishing through ``wsns``, and the coroutine
    function closing its store."""
    store, close = relay_store(url)
    return Relay(store, functools.partial(wsns.broadcast, confirm=True), claimer, timing=TIMING), close


def sqlite_file(url: str) -> str:
    return url.removeprefix("sqlite:///")


def relay_store(url: str) -> tuple[OutboxStore, Any]:
    """The relay's store on ``url`` and the coroutine function closing it."""
    if url.startswith("sqlite:///"):
        runner = sqlite.SQLiteFile(sqlite_file(url))
        return sqlite.SQLiteOutbox(runner), runner.close
    store = postgres.PostgresOutbox(url)
    return store, store.close


@contextmanager
def transaction(url: str) -> Iterator[Any]:
    """The app's own transaction: committed on exit, rolled back if the block raised."""
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(sqlite_file(url))) as db, db:
            yield db
    else:
        with psycopg.connect(url) as db, db.transaction():
            yield db


def record(db: Any, path: str, type: str, data: Any) -> Frame:
    """``record`` for either driver's connection (inside ``transaction``)."""
    if isinstance(db, sqlite3.Connection):
        return sqlite.record(db, path, type, data)
    return postgres.record_sync(db, path, type, data)


def create_table(url: str, *, gate: bool = False) -> None:
    with transaction(url) as db:
        if isinstance(db, sqlite3.Connection):
            db.executescript(sqlite.SCHEMA + (SQLITE_GATE if gate else ""))
        else:
            db.execute(postgres.SCHEMA)
            if gate:
                db.execute(POSTGRES_GATE)


def execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement in a transaction of its own (``?`` placeholders, whichever driver)."""
    with transaction(url) as db:
        if isinstance(db, sqlite3.Connection):
            return db.execute(statement, params).fetchall()
        cursor = db.execute(statement.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def backdate(url: str, seconds: float) -> None:
    """Make every unpublished row ``seconds`` older: overdue without waiting for the grace."""
    execute(url, "UPDATE outbox SET created = created - ? WHERE published_at IS NULL", (seconds,))


def rows(url: str) -> list[tuple[int, float | None, str | None]]:
    """(id, published_at, claimed_by) of every row."""
    return [tuple(row) for row in execute(url, "SELECT id, published_at, claimed_by FROM outbox ORDER BY id")]
