"""SQLite persistence for bubblemap, shared safely by several local instances.

Every bubble write (and a map's deletion) also records, in the same transaction, the frame
that announces it (``outbox.record``, sanic_wsns.outbox.sqlite) and returns it with the
result: the caller hands it to the outbox ``Relay``, which publishes it (docs/outbox.md).

WAL lets readers and one writer work at once across processes; ``busy_timeout`` makes a
writer wait for another instance's transaction instead of failing; every write is one
``BEGIN IMMEDIATE`` transaction, so a read-check-write (the version check of an update)
cannot interleave with another instance's write. Calls run on one dedicated thread that
owns the connection, so the event loop never waits on the disk or on a lock.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from sanic_wsns import Conflict, InvalidData, NotFound
from sanic_wsns.outbox import Frame
from sanic_wsns.outbox import sqlite as outbox

from . import budgets, migrations
from .accounts import name_key, skeleton
from .models import (
    MAX_ID,
    Account,
    Bubble,
    BubbleCreate,
    BubbleDeleted,
    BubbleUpdate,
    Map,
    MapCard,
    MapRemoved,
    MapView,
)
from .paths import audiences, list_path, map_path
from .throttle import Rate

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS maps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    private INTEGER NOT NULL,
    -- Grows with every change its card shows (see MapCard.revision).
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS members (
    map_id INTEGER NOT NULL REFERENCES maps(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (map_id, name)
);
CREATE INDEX IF NOT EXISTS members_by_name ON members (name);
CREATE TABLE IF NOT EXISTS bubbles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    map_id INTEGER NOT NULL REFERENCES maps(id) ON DELETE CASCADE,
    x REAL NOT NULL,
    y REAL NOT NULL,
    text TEXT NOT NULL,
    color TEXT NOT NULL,
    version INTEGER NOT NULL,
    edited_by TEXT,
    edited_at REAL
);
CREATE INDEX IF NOT EXISTS bubbles_by_map ON bubbles (map_id);
CREATE TABLE IF NOT EXISTS users (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password TEXT NOT NULL,
    created REAL NOT NULL,
    -- What the name looks like (accounts.skeleton): one account per look.
    skeleton TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_key TEXT NOT NULL REFERENCES users(key) ON DELETE CASCADE,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions (created);
-- When each map last changed, for the map list only: kept by triggers, so no write path
-- has to remember it.
CREATE TABLE IF NOT EXISTS map_activity (
    map_id INTEGER PRIMARY KEY,
    changed_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS map_created AFTER INSERT ON maps BEGIN
    INSERT OR REPLACE INTO map_activity VALUES (new.id, {now});
END;
CREATE TRIGGER IF NOT EXISTS map_deleted AFTER DELETE ON maps BEGIN
    DELETE FROM map_activity WHERE map_id = old.id;
END;
CREATE TRIGGER IF NOT EXISTS bubble_created AFTER INSERT ON bubbles BEGIN
    INSERT OR REPLACE INTO map_activity VALUES (new.map_id, {now});
END;
CREATE TRIGGER IF NOT EXISTS bubble_updated AFTER UPDATE ON bubbles BEGIN
    INSERT OR REPLACE INTO map_activity VALUES (new.map_id, {now});
END;
CREATE TRIGGER IF NOT EXISTS bubble_deleted AFTER DELETE ON bubbles
    WHEN EXISTS (SELECT 1 FROM maps WHERE id = old.map_id) BEGIN
    INSERT OR REPLACE INTO map_activity VALUES (old.map_id, {now});
END;
""".replace("{now}", "(julianday('now') - 2440587.5) * 86400.0")  # seconds since the epoch

_BUBBLE_COLUMNS = "id, x, y, text, color, version, edited_by, edited_at"
#: A map's card (``MapCard``), from ``maps``; the caller adds the ``WHERE``.
_CARD_SELECT = """SELECT id, title, owner, private, revision,
       (SELECT json_group_array(name) FROM
           (SELECT name FROM members WHERE map_id = maps.id ORDER BY name)) AS members,
       (SELECT count(*) FROM bubbles WHERE map_id = maps.id) AS bubble_count,
       (SELECT changed_at FROM map_activity WHERE map_id = maps.id) AS changed_at
FROM maps"""


class Store:
    """bubblemap's database. Build it, ``await open()``, use it, ``close()``."""

    def __init__(self, path: str | Path, *, bubbles_per_map: int | None = None,
                 members_per_map: int | None = None, edits: Rate | None = None,
                 maps_per_user: int | None = None, map_creations: Rate | None = None):
        self.path = str(path)
        self.bubbles_per_map = bubbles_per_map
        self.members_per_map = members_per_map
        #: Each account's bubble edits, across its connections and every instance
        #: (``budgets.py``); ``None``: unlimited.
        self.edits = edits
        #: Maps one account may own, and how fast it may create them (across instances,
        #: like ``edits``); ``None``: unlimited.
        self.maps_per_user = maps_per_user
        self.map_creations = map_creations
        #: Test hook: called inside an update's transaction between reading the bubble and
        #: writing it, so a test can hold two writers at that point (a forced interleaving).
        self.between_read_and_write: Callable[[], None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bubblemap-db")
        self._db: sqlite3.Connection | None = None

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return outbox.write_transaction(self.db)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(db, *args)`` on the store's thread (reads only)."""
        return await self._run(fn, self.db, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(db, *args)`` on the store's thread, in one write transaction."""
        return await self._run(self._in_write, fn, *args)

    def _in_write(self, fn: Callable[..., T], *args: Any) -> T:
        with self._write() as db:
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
        with self._write():
            for statement in _statements(SCHEMA):
                db.execute(statement)
            migrations.migrate(db)
            for statement in _statements(outbox.SCHEMA + budgets.SCHEMA):
                db.execute(statement)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self.db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    # -- settings ---------------------------------------------------------------------------

    async def secret(self) -> str:
        """The cookie-signing secret: generated by whichever instance asks first, then the
        same for every instance sharing this database."""
        return await self._run(self._secret)

    def _secret(self) -> str:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('secret', ?)",
                       (secrets.token_hex(32),))
            return db.execute("SELECT value FROM settings WHERE key = 'secret'").fetchone()[0]

    # -- accounts and sessions --------------------------------------------------------------

    async def credentials(self, key: str) -> tuple[Account, str] | None:
        """The account with name key ``key`` and its stored password hash, if it exists."""
        return await self._run(self._credentials, key)

    def _credentials(self, key: str) -> tuple[Account, str] | None:
        row = self.db.execute("SELECT key, name, password FROM users WHERE key = ?", (key,)).fetchone()
        return None if row is None else (Account(key=row["key"], name=row["name"]), row["password"])

    async def account(self, key: str) -> Account | None:
        found = await self.credentials(key)
        return None if found is None else found[0]

    async def register(self, key: str, name: str, password_hash: str) -> bool:
        """Create the account unless ``key`` is taken (by a racing sign-in, perhaps): whether
        this call created it. Raises ``Conflict`` (``name_taken``) when another account's
        name looks the same (``accounts.skeleton``)."""
        return await self._run(self._register, key, name, password_hash)

    def _register(self, key: str, name: str, password_hash: str) -> bool:
        with self._write() as db:
            look = skeleton(name)
            alike = db.execute("SELECT 1 FROM users WHERE skeleton = ? AND key != ?",
                               (look, key)).fetchone()
            if alike is not None:
                raise Conflict("this name looks like another account's: choose another",
                               details={"reason": "name_taken"})
            return db.execute("INSERT OR IGNORE INTO users (key, name, password, created, skeleton) "
                              "VALUES (?, ?, ?, ?, ?)",
                              (key, name, password_hash, time.time(), look)).rowcount > 0

    async def set_password(self, key: str, name: str, password_hash: str) -> None:
        """Create the account or replace its password (an admin account set at start)."""
        await self._run(self._set_password, key, name, password_hash)

    def _set_password(self, key: str, name: str, password_hash: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO users (key, name, password, created, skeleton) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET password = excluded.password",
                       (key, name, password_hash, time.time(), skeleton(name)))

    async def open_session(self, key: str, max_age: float) -> str:
        """A new session of account ``key``, by random id; sessions older than ``max_age``
        seconds are pruned on the way."""
        return await self._run(self._open_session, key, max_age)

    def _open_session(self, key: str, max_age: float) -> str:
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE created < ?", (now - max_age,))
            db.execute("INSERT INTO sessions (id, user_key, created) VALUES (?, ?, ?)",
                       (session_id, key, now))
        return session_id

    async def session_account(self, session_id: str, max_age: float) -> Account | None:
        """Who the live session ``session_id`` belongs to; ``None`` once deleted or expired."""
        return await self._run(self._session_account, session_id, max_age)

    def _session_account(self, session_id: str, max_age: float) -> Account | None:
        row = self.db.execute(
            "SELECT users.key, users.name FROM sessions JOIN users ON users.key = sessions.user_key "
            "WHERE sessions.id = ? AND sessions.created >= ?",
            (session_id, time.time() - max_age)).fetchone()
        return None if row is None else Account(key=row["key"], name=row["name"])

    async def close_session(self, session_id: str) -> None:
        await self._run(self._close_session, session_id)

    def _close_session(self, session_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- maps -------------------------------------------------------------------------------

    async def create_map(self, title: str, owner: str, private: bool) -> Map:
        """A new map of the account named ``owner``; raises ``Conflict`` (``too_many_maps``)
        when it owns ``maps_per_user`` already, ``TooManyRequests`` when it made maps
        faster than ``map_creations``."""
        return await self._run(self._create_map, title, owner, private)

    def _create_map(self, title: str, owner: str, private: bool) -> Map:
        with self._write() as db:
            owned = db.execute("SELECT count(*) FROM maps WHERE owner = ?", (owner,)).fetchone()[0]
            if self.maps_per_user is not None and owned >= self.maps_per_user:
                raise Conflict(f"you have {owned} maps, the most one account may have: delete one first",
                               details={"reason": "too_many_maps", "limit": self.maps_per_user})
            if self.map_creations is not None:
                budgets.spend(db, f"maps {name_key(owner)}", self.map_creations, time.time(), "new maps")
            cursor = db.execute("INSERT INTO maps (title, owner, private) VALUES (?, ?, ?)",
                                (title, owner, int(private)))
            map_id = cursor.lastrowid or 0
            _announce_card(db, map_id)
            return _read_map(db, map_id)

    async def get_map(self, map_id: int) -> Map | None:
        return await self._run(self._get_map, map_id)

    def _get_map(self, map_id: int) -> Map | None:
        return _read_map(self.db, map_id)

    async def maps_for(self, name: str, *, limit: int | None = None,
                       before: int | None = None) -> list[MapCard]:
        """Maps ``name`` may open, newest first: public ones, and private ones it owns or
        is a member of; at most ``limit``, with ids below ``before`` (a page's cursor)."""
        return await self._run(self._maps_for, name, limit, before)

    def _maps_for(self, name: str, limit: int | None, before: int | None) -> list[MapCard]:
        rows = self.db.execute(
            f"""{_CARD_SELECT}
                WHERE (private = 0 OR owner = :name
                       OR id IN (SELECT map_id FROM members WHERE name = :name))
                  AND id < :before
                ORDER BY id DESC LIMIT :limit""",
            {"name": name, "before": MAX_ID if before is None else before,
             "limit": -1 if limit is None else limit}).fetchall()
        return [_card(r) for r in rows]

    async def delete_map(self, map_id: int) -> Frame | None:
        """Delete a map (and its bubbles): its ``map-deleted`` frame, ``None`` if no such map."""
        return await self._run(self._delete_map, map_id)

    def _delete_map(self, map_id: int) -> Frame | None:
        with self._write() as db:
            card = _read_card(db, map_id)
            if card is None:
                return None
            db.execute("DELETE FROM maps WHERE id = ?", (map_id,))
            _schedule_for_lists(db, card, "map-removed", MapRemoved(map_id))
            return outbox.record(db, map_path(map_id), "map-deleted", {"id": map_id})

    async def add_member(self, map_id: int, name: str) -> tuple[Map, Frame | None]:
        """Add a member: the map and its ``map-updated`` frame (``None``: already one)."""
        return await self._run(self._add_member, map_id, name)

    def _add_member(self, map_id: int, name: str) -> tuple[Map, Frame | None]:
        with self._write() as db:
            if db.execute("SELECT 1 FROM maps WHERE id = ?", (map_id,)).fetchone() is None:
                raise NotFound("no such map")
            _check_room(db, "members", map_id, self.members_per_map, "members_full")
            if not db.execute("INSERT OR IGNORE INTO members (map_id, name) VALUES (?, ?)",
                              (map_id, name)).rowcount:
                return _read_map(db, map_id), None
            return _map_changed(db, map_id)

    async def rename_map(self, map_id: int, title: str) -> tuple[Map, Frame]:
        """Give a map a new title: the map and its ``map-updated`` frame."""
        return await self._run(self._rename_map, map_id, title)

    def _rename_map(self, map_id: int, title: str) -> tuple[Map, Frame]:
        with self._write() as db:
            if not db.execute("UPDATE maps SET title = ? WHERE id = ?", (title, map_id)).rowcount:
                raise NotFound("no such map")
            return _map_changed(db, map_id)

    async def view(self, map_id: int) -> MapView | None:
        """The map and all its bubbles, read in one transaction (a consistent snapshot),
        with the highest bubble id ever given out: any id up to it that is not among the
        bubbles was deleted, which tells a page to drop a late frame about it."""
        return await self._run(self._view, map_id)

    def _view(self, map_id: int) -> MapView | None:
        db = self.db
        db.execute("BEGIN")
        try:
            found = self._get_map(map_id)
            if found is None:
                return None
            rows = db.execute(f"SELECT {_BUBBLE_COLUMNS} FROM bubbles WHERE map_id = ? ORDER BY id",
                              (map_id,)).fetchall()
            sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'bubbles'").fetchone()
            return MapView(map=found, bubbles=[_bubble(r) for r in rows],
                           last_bubble_id=sequence[0] if sequence else 0)
        finally:
            db.execute("COMMIT")

    # -- bubbles ----------------------------------------------------------------------------

    async def create_bubble(self, map_id: int, data: BubbleCreate, *, by: str) -> tuple[Bubble, Frame]:
        """The new bubble, made by the account named ``by``, and its ``bubble-created``
        frame (committed together)."""
        return await self._run(self._create_bubble, map_id, data, by)

    def _create_bubble(self, map_id: int, data: BubbleCreate, by: str) -> tuple[Bubble, Frame]:
        with self._write() as db:
            if db.execute("SELECT 1 FROM maps WHERE id = ?", (map_id,)).fetchone() is None:
                raise NotFound("no such map")
            _check_room(db, "bubbles", map_id, self.bubbles_per_map, "map_full")
            self._spend_edit(db, by)
            bubble = _bubble(db.execute(
                "INSERT INTO bubbles (map_id, x, y, text, color, version, edited_by, edited_at) "
                f"VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING {_BUBBLE_COLUMNS}",
                (map_id, data.x, data.y, data.text, data.color, by, time.time())).fetchone())
            _announce_card(db, map_id)
            return bubble, outbox.record(db, map_path(map_id), "bubble-created", bubble)

    async def update_bubble(self, map_id: int, data: BubbleUpdate, *, by: str) -> tuple[Bubble, Frame]:
        """Apply ``data`` (for the account named ``by``) if the bubble is still at
        ``data.version``: the bubble and its ``bubble-updated`` frame. Raises
        ``NotFound``, or ``Conflict`` whose ``details`` is the current bubble."""
        return await self._run(self._update_bubble, map_id, data, by)

    def _update_bubble(self, map_id: int, data: BubbleUpdate, by: str) -> tuple[Bubble, Frame]:
        changes = data.changes()
        if not changes:
            raise InvalidData("nothing to update: give x, y, text or color")
        with self._write() as db:
            self._spend_edit(db, by)
            current = self._find_bubble(map_id, data.id)
            if self.between_read_and_write is not None:
                self.between_read_and_write()
            if current.version != data.version:
                raise Conflict("stale version", details=current)
            assignments = ", ".join(f"{field} = ?" for field in changes)
            bubble = _bubble(db.execute(
                f"UPDATE bubbles SET {assignments}, version = version + 1, edited_by = ?, edited_at = ? "
                f"WHERE id = ? RETURNING {_BUBBLE_COLUMNS}",
                (*changes.values(), by, time.time(), data.id)).fetchone())
            _announce_card(db, map_id)
            return bubble, outbox.record(db, map_path(map_id), "bubble-updated", bubble)

    async def delete_bubble(self, map_id: int, bubble_id: int, *, by: str) -> tuple[BubbleDeleted, Frame]:
        """Delete a bubble (for the account named ``by``): ``BubbleDeleted`` and its
        ``bubble-deleted`` frame."""
        return await self._run(self._delete_bubble, map_id, bubble_id, by)

    def _delete_bubble(self, map_id: int, bubble_id: int, by: str) -> tuple[BubbleDeleted, Frame]:
        with self._write() as db:
            self._spend_edit(db, by)
            if not db.execute("DELETE FROM bubbles WHERE id = ? AND map_id = ?",
                              (bubble_id, map_id)).rowcount:
                raise NotFound(f"no bubble {bubble_id} on this map")
            _announce_card(db, map_id)
            deleted = BubbleDeleted(bubble_id)
            return deleted, outbox.record(db, map_path(map_id), "bubble-deleted", deleted)

    def _spend_edit(self, db: sqlite3.Connection, by: str) -> None:
        """Spend an edit token of the account named ``by`` (raises ``TooManyRequests``)."""
        if self.edits is not None:
            budgets.spend(db, f"edits {name_key(by)}", self.edits, time.time())

    def _find_bubble(self, map_id: int, bubble_id: int) -> Bubble:
        row = self.db.execute(f"SELECT {_BUBBLE_COLUMNS} FROM bubbles WHERE id = ? AND map_id = ?",
                              (bubble_id, map_id)).fetchone()
        if row is None:
            raise NotFound(f"no bubble {bubble_id} on this map")
        return _bubble(row)


def _check_room(db: sqlite3.Connection, table: str, map_id: int, limit: int | None, reason: str) -> None:
    """Raise ``Conflict`` (details ``{"reason", "limit"}``) if map ``map_id`` already has
    ``limit`` rows in ``table``; inside the write transaction, so racing writers cannot
    both take the last place."""
    if limit is None:
        return
    count = db.execute(f"SELECT count(*) FROM {table} WHERE map_id = ?", (map_id,)).fetchone()[0]
    if count >= limit:
        raise Conflict(f"this map is full: at most {limit} {table}",
                       details={"reason": reason, "limit": limit})


def _bubble(row: sqlite3.Row) -> Bubble:
    return Bubble(id=row["id"], x=row["x"], y=row["y"], text=row["text"], color=row["color"],
                  version=row["version"], edited_by=row["edited_by"], edited_at=row["edited_at"])


def _card(row: sqlite3.Row) -> MapCard:
    return MapCard(id=row["id"], title=row["title"], owner=row["owner"], private=bool(row["private"]),
                   members=json.loads(row["members"]), bubble_count=row["bubble_count"],
                   changed_at=row["changed_at"], revision=row["revision"])


def _read_map(db: sqlite3.Connection, map_id: int) -> Map | None:
    row = db.execute("SELECT id, title, owner, private, revision FROM maps WHERE id = ?",
                     (map_id,)).fetchone()
    if row is None:
        return None
    members = [r[0] for r in db.execute("SELECT name FROM members WHERE map_id = ? ORDER BY name", (map_id,))]
    return Map(id=row["id"], title=row["title"], owner=row["owner"], private=bool(row["private"]),
               members=members, revision=row["revision"])


def _map_changed(db: sqlite3.Connection, map_id: int) -> tuple[Map, Frame]:
    """The map itself changed (title, members): its card goes to the lists, and its pages
    get the new map in a ``map-updated`` frame."""
    _announce_card(db, map_id)
    changed = _read_map(db, map_id)
    return changed, outbox.record(db, map_path(map_id), "map-updated", changed)


def _read_card(db: sqlite3.Connection, map_id: int) -> MapCard | None:
    row = db.execute(f"{_CARD_SELECT} WHERE id = ?", (map_id,)).fetchone()
    return None if row is None else _card(row)


def _announce_card(db: sqlite3.Connection, map_id: int) -> None:
    """The map's card changed: count a revision and schedule the new card for every list
    that shows it. Inside the change's transaction, like any outbox frame, so no list
    misses a change; scheduled (``outbox.schedule``), so a busy map sends each list about
    one card a second, not one per change."""
    db.execute("UPDATE maps SET revision = revision + 1 WHERE id = ?", (map_id,))
    card = _read_card(db, map_id)
    if card is not None:
        _schedule_for_lists(db, card, "map-card", card)


def _schedule_for_lists(db: sqlite3.Connection, card: MapCard, type: str, data: Any) -> None:
    """Schedule ``{type, data}`` about ``card`` for each list that shows it; one pending frame
    per map and list, so a removal replaces a card still waiting."""
    for audience in audiences(card.private, card.owner, card.members):
        outbox.schedule(db, list_path(audience), type, data, coalesce=f"map {card.id} {audience}")


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
