"""A map's bubbles: statements over a connection, run by ``Store.read`` (``view``) or
``Store.write`` (the others, each in one transaction).

Every write records, in its own transaction, the frame announcing it (``outbox.record``)
and returns it with the result, and schedules the map's new card (``maps.announce_card``);
each spends an edit of its account (``budgets.py``) first, so a refused edit writes nothing.
"""

from __future__ import annotations

import sqlite3
import time

from sanic_wsns import Conflict, InvalidData, NotFound
from sanic_wsns.outbox import Frame
from sanic_wsns.outbox import sqlite as outbox

from .. import budgets
from ..accounts import name_key
from ..models import Bubble, BubbleCreate, BubbleDeleted, BubbleUpdate, MapView
from ..paths import map_path
from . import maps
from .runner import Policy

_COLUMNS = "id, x, y, text, color, version, edited_by, edited_at"

# -- reads ---------------------------------------------------------------------------------


def view(db: sqlite3.Connection, map_id: int) -> MapView | None:
    """The map and all its bubbles, read in one transaction (a consistent snapshot), with
    the highest bubble id ever given out: any id up to it that is not among the bubbles
    was deleted, which tells a page to drop a late frame about it."""
    db.execute("BEGIN")
    try:
        found = maps.get(db, map_id)
        if found is None:
            return None
        rows = db.execute(f"SELECT {_COLUMNS} FROM bubbles WHERE map_id = ? ORDER BY id",
                          (map_id,)).fetchall()
        sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'bubbles'").fetchone()
        return MapView(map=found, bubbles=[_bubble(r) for r in rows],
                       last_bubble_id=sequence[0] if sequence else 0)
    finally:
        db.execute("COMMIT")


def exists(db: sqlite3.Connection, map_id: int, bubble_id: int) -> bool:
    found = db.execute("SELECT 1 FROM bubbles WHERE id = ? AND map_id = ?", (bubble_id, map_id)).fetchone()
    return found is not None


# -- writes --------------------------------------------------------------------------------

def create(db: sqlite3.Connection, policy: Policy, map_id: int, data: BubbleCreate,
           by: str) -> tuple[Bubble, Frame]:
    """The new bubble, made by the account named ``by``, and its ``bubble-created`` frame."""
    if db.execute("SELECT 1 FROM maps WHERE id = ?", (map_id,)).fetchone() is None:
        raise NotFound("no such map")
    maps.check_room(db, "bubbles", map_id, policy.bubbles_per_map, "map_full")
    _spend_edit(db, policy, by)
    bubble = _bubble(db.execute(
        "INSERT INTO bubbles (map_id, x, y, text, color, version, edited_by, edited_at) "
        f"VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING {_COLUMNS}",
        (map_id, data.x, data.y, data.text, data.color, by, time.time())).fetchone())
    maps.announce_card(db, map_id)
    return bubble, outbox.record(db, map_path(map_id), "bubble-created", bubble)


def update(db: sqlite3.Connection, policy: Policy, map_id: int, data: BubbleUpdate,
           by: str) -> tuple[Bubble, Frame]:
    """Apply ``data`` (for the account named ``by``) if the bubble is still at
    ``data.version``: the bubble and its ``bubble-updated`` frame. Raises ``NotFound``, or
    ``Conflict`` whose ``details`` is the current bubble."""
    changes = data.changes()
    if not changes:
        raise InvalidData("nothing to update: give x, y, text or color")
    _spend_edit(db, policy, by)
    current = _find(db, map_id, data.id)
    if policy.between_read_and_write is not None:
        policy.between_read_and_write()
    if current.version != data.version:
        raise Conflict("stale version", details=current)
    assignments = ", ".join(f"{field} = ?" for field in changes)
    bubble = _bubble(db.execute(
        f"UPDATE bubbles SET {assignments}, version = version + 1, edited_by = ?, edited_at = ? "
        f"WHERE id = ? RETURNING {_COLUMNS}", (*changes.values(), by, time.time(), data.id)).fetchone())
    maps.announce_card(db, map_id)
    return bubble, outbox.record(db, map_path(map_id), "bubble-updated", bubble)


def delete(db: sqlite3.Connection, policy: Policy, map_id: int, bubble_id: int,
           by: str) -> tuple[BubbleDeleted, Frame]:
    """Delete a bubble (for the account named ``by``): ``BubbleDeleted`` and its
    ``bubble-deleted`` frame."""
    _spend_edit(db, policy, by)
    if not db.execute("DELETE FROM bubbles WHERE id = ? AND map_id = ?", (bubble_id, map_id)).rowcount:
        raise NotFound(f"no bubble {bubble_id} on this map")
    maps.announce_card(db, map_id)
    deleted = BubbleDeleted(bubble_id)
    return deleted, outbox.record(db, map_path(map_id), "bubble-deleted", deleted)


def _spend_edit(db: sqlite3.Connection, policy: Policy, by: str) -> None:
    """Spend an edit token of the account named ``by`` (raises ``TooManyRequests``)."""
    if policy.edits is not None:
        budgets.spend(db, f"edits {name_key(by)}", policy.edits, time.time())


def _find(db: sqlite3.Connection, map_id: int, bubble_id: int) -> Bubble:
    row = db.execute(f"SELECT {_COLUMNS} FROM bubbles WHERE id = ? AND map_id = ?",
                     (bubble_id, map_id)).fetchone()
    if row is None:
        raise NotFound(f"no bubble {bubble_id} on this map")
    return _bubble(row)


def _bubble(row: sqlite3.Row) -> Bubble:
    return Bubble(id=row["id"], x=row["x"], y=row["y"], text=row["text"], color=row["color"],
                  version=row["version"], edited_by=row["edited_by"], edited_at=row["edited_at"])
