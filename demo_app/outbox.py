"""The transactional outbox: a change and the frame that announces it commit together.

Publishing right after a commit can be lost: the process dies between the two, or the
broker stalls and the process dies while the frame still waits in its queue. So the frame
is a row written in the same SQLite transaction as the change (``record``). The instance
that made the change publishes it at once (``Outbox.announce``) and marks the row
published only when the broker has *written* it (``broadcast(..., confirm=True)``); every
instance's sweeper publishes rows left unpublished past a grace period, claiming them in
one ``UPDATE`` so that normally only one instance does. A frame may thus arrive twice or
late, never not at all; pages keep the highest version of a bubble and never bring a
deleted one back, so a duplicate or a late frame changes nothing.

A frame that only needs to be *eventually* current (a map's card in the map lists) is
``schedule``d instead: nobody announces it; the sweepers publish it once it is due, and
until a sweeper claims it a newer frame under the same key replaces its data. So a map
changing ten times a second sends each list one frame per ``SCHEDULE_DELAY`` or so, with
the same guarantee: the last change is always published.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import msgspec

from sanic_wsns import BrokerUnavailable

logger = logging.getLogger("demo_app.outbox")

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    published_at REAL,
    claimed_by TEXT,
    claimed_until REAL,
    -- A scheduled frame (``schedule``): when a sweeper publishes it, and the key under
    -- which a later frame replaces it until then. NULL for a frame announced at once.
    due REAL,
    coalesce_key TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (created) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
"""

#: Rows younger than this are left to the instance that wrote them (seconds).
GRACE = 2.0
#: A claim lasts this long: a claimer that died or could not publish is taken over after it.
LEASE = 5.0
#: A scheduled frame is published this long after the first change it carries (seconds).
SCHEDULE_DELAY = 0.5
#: How long to wait for the broker to write a frame before leaving it to a sweeper.
CONFIRM_TIMEOUT = 4.0
#: The sweeper looks for overdue rows this often (seconds), at most BATCH rows a time.
TICK = 0.5
BATCH = 100
#: Published rows are deleted this long after publication (seconds), on every tick, by
#: transactions of PRUNE_BATCH rows (another writer waits for one batch at most), up to
#: PRUNE_BATCHES per tick. Pruning 500 rows a minute let one user grow the table by 30k rows
#: in 30 s; now it keeps up with 20k published rows a second (edits are about 10 a second
#: per user, ``limits.EDIT_RATE``), so the table holds about KEEP seconds of frames.
KEEP = 5.0
PRUNE_BATCH = 500
PRUNE_BATCHES = 20

_encode = msgspec.json.Encoder().encode


class Frame(msgspec.Struct, frozen=True):
    """One recorded announcement: ``{type, data}`` for the namespace at ``path``;
    ``scheduled`` when a sweeper publishes it by design (``schedule``), not as a late one."""

    id: int
    path: str
    type: str
    data: msgspec.Raw
    scheduled: bool = False


#: When a row is due for a sweeper: a scheduled one at its ``due``, any other after ``GRACE``.
_DUE = "coalesce(due, created + :grace)"
_CLAIMABLE = f"published_at IS NULL AND {_DUE} <= :now AND (claimed_until IS NULL OR claimed_until < :now)"


# -- SQL, run inside the caller's transaction -----------------------------------------------

def record(db: sqlite3.Connection, path: str, type: str, data: Any) -> Frame:
    """Add the frame announcing a change; call it inside the change's own transaction."""
    payload = _encode(data)
    cursor = db.execute("INSERT INTO outbox (path, type, data, created) VALUES (?, ?, ?, ?)",
                        (path, type, payload.decode(), time.time()))
    return Frame(cursor.lastrowid or 0, path, type, msgspec.Raw(payload))


def schedule(db: sqlite3.Connection, path: str, type: str, data: Any, *, key: str) -> None:
    """Add a frame for a sweeper to publish in ``SCHEDULE_DELAY`` seconds, or, if a frame
    under ``key`` is still waiting unclaimed, put this one in its place (same ``path``).
    Call it inside the change's own transaction. Once claimed, a row is never changed:
    the next change adds a new one, so no change is ever left unpublished."""
    payload = _encode(data).decode()
    if db.execute("UPDATE outbox SET type = ?, data = ? WHERE coalesce_key = ? "
                  "AND published_at IS NULL AND claimed_by IS NULL", (type, payload, key)).rowcount:
        return
    now = time.time()
    db.execute("INSERT INTO outbox (path, type, data, created, due, coalesce_key) VALUES (?, ?, ?, ?, ?, ?)",
               (path, type, payload, now, now + SCHEDULE_DELAY, key))


def overdue(db: sqlite3.Connection, now: float) -> bool:
    """Whether a sweep would claim anything (a plain read: no write lock while idle)."""
    return db.execute(f"SELECT 1 FROM outbox WHERE {_CLAIMABLE} LIMIT 1",
                      {"now": now, "grace": GRACE}).fetchone() is not None


def claim(db: sqlite3.Connection, claimer: str, now: float, limit: int = BATCH) -> list[Frame]:
    """Take up to ``limit`` overdue rows for ``LEASE`` seconds, oldest first. One statement,
    so two instances sweeping together never take the same row."""
    rows = db.execute(
        f"""UPDATE outbox SET claimed_by = :claimer, claimed_until = :now + :lease
            WHERE id IN (SELECT id FROM outbox WHERE {_CLAIMABLE} ORDER BY id LIMIT :limit)
            RETURNING id, path, type, data, due IS NOT NULL""",
        {"claimer": claimer, "now": now, "lease": LEASE, "grace": GRACE, "limit": limit}).fetchall()
    return sorted((Frame(r[0], r[1], r[2], msgspec.Raw(r[3].encode()), bool(r[4])) for r in rows),
                  key=lambda frame: frame.id)


def mark_published(db: sqlite3.Connection, ids: list[int], now: float) -> None:
    db.execute(f"UPDATE outbox SET published_at = ? WHERE id IN ({', '.join('?' * len(ids))})",
               (now, *ids))


def prunable(db: sqlite3.Connection, now: float) -> bool:
    """Whether ``prune`` would delete anything (a plain read: no write lock while idle)."""
    found = db.execute("SELECT 1 FROM outbox WHERE published_at < ? LIMIT 1", (now - KEEP,)).fetchone()
    return found is not None


def prune(db: sqlite3.Connection, now: float, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` rows published more than ``KEEP`` seconds ago."""
    return db.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < ? LIMIT ?)",
        (now - KEEP, limit)).rowcount


# -- publishing -----------------------------------------------------------------------------

class Database(Protocol):
    """What the outbox needs of the store: run a function on its connection."""

    async def read(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def write(self, fn: Callable[..., T], *args: Any) -> T: ...


#: ``publish(path, type, data)``: ``WsNamespaces.broadcast(..., confirm=True)``; it queues
#: the frame in its first step, returns once the broker wrote it, raises if it did not.
Publish = Callable[[str, str, Any], Awaitable[Any]]


class Outbox:
    """Publishes recorded frames: at once after their commit, and later by the sweeper.

    ``start``/``stop`` run the sweeper (one task per instance, tied to the server's
    listeners); ``claimer`` names this instance in the rows it claims.
    """

    def __init__(self, db: Database, publish: Publish, claimer: str):
        self._db = db
        self._publish = publish
        self.claimer = claimer
        self._sweeper: asyncio.Task[None] | None = None
        self._confirming: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Announced frames still waiting for the broker to write them (or to give up)."""
        return len(self._confirming)

    async def announce(self, frame: Frame) -> None:
        """Publish a just-committed frame. It is queued (and delivered to this instance's
        clients) before this returns, so frames keep their commit order and a requester
        gets the frame before its reply; it is marked published in the background once
        the broker wrote it: a reply never waits for the broker."""
        written = self._start_publishing(frame)
        task = asyncio.get_running_loop().create_task(self._mark_when_written([frame], [written]))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)
        # Tasks take their first step in creation order: after one yield, ``written`` has
        # queued its frame (the broker enqueues before its first await).
        await asyncio.sleep(0)

    def _start_publishing(self, frame: Frame) -> asyncio.Task[Any]:
        written = asyncio.ensure_future(self._publish(frame.path, frame.type, frame.data))
        written.add_done_callback(_retrieve)
        return written

    async def sweep(self) -> int:
        """Publish overdue frames (claimed first); how many the broker wrote."""
        now = time.time()
        if not await self._db.read(overdue, now):
            return 0
        frames = await self._db.write(claim, self.claimer, now)
        if not frames:
            return 0
        late = sum(not frame.scheduled for frame in frames)
        if late:
            logger.warning("outbox: publishing %d frame(s) left unpublished for over %.0fs", late, GRACE)
        return await self._mark_when_written(frames, [self._start_publishing(f) for f in frames])

    async def _mark_when_written(self, frames: list[Frame], written: list[asyncio.Task[Any]]) -> int:
        # Gives up without cancelling: the frame stays queued, the sweeper may publish it again.
        await asyncio.wait(written, timeout=CONFIRM_TIMEOUT)
        ids = [frame.id for frame, w in zip(frames, written, strict=True)
               if w.done() and not w.cancelled() and w.exception() is None]
        if ids:
            await self._db.write(mark_published, ids, time.time())
        return len(ids)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(),
                                                               name="bubblemap-outbox")

    async def stop(self) -> None:
        """Stop sweeping; give frames already announced a moment to be marked."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        if self._confirming:
            await asyncio.wait(set(self._confirming), timeout=1.0)
        for task in set(self._confirming):
            task.cancel()
        await asyncio.gather(*self._confirming, return_exceptions=True)

    async def prune(self) -> int:
        """Delete the rows published over ``KEEP`` seconds ago, a batch per transaction,
        until fewer than a batch are left (or ``PRUNE_BATCHES`` ran); how many."""
        deleted = 0
        if not await self._db.read(prunable, time.time()):
            return 0
        for _ in range(PRUNE_BATCHES):
            batch = await self._db.write(prune, time.time())
            deleted += batch
            if batch < PRUNE_BATCH:
                break
        return deleted

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
                await self.prune()
            except Exception:  # the sweeper must outlive a locked or busy database
                logger.exception("outbox sweep failed; retrying in %.1fs", TICK)
            await asyncio.sleep(TICK)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Read a publication's outcome: a broker's refusal is left to the sweeper (the broker
    logged it already); anything else is a bug worth a line in the log."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, BrokerUnavailable):
        logger.error("outbox: publishing a frame failed", exc_info=error)
