"""Maps, their members and their cards in the map lists: statements over a connection,
run by ``Store.read`` (the reads) or ``Store.write`` (the writes, each in one transaction).

A write that changes what a map's card shows also schedules the new card for every list
that shows it (``announce_card``), and a write that changes the map returns the frame
announcing it (``outbox.record``, committed with the change): the caller hands that frame
to the outbox ``Relay``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from sanic_wsns import Conflict, NotFound
from sanic_wsns.outbox import Frame
from sanic_wsns.outbox import sqlite as outbox

from .. import budgets
from ..accounts import name_key
from ..models import MAX_ID, Map, MapCard, MapRemoved
from ..paths import audiences, list_path, map_path
from .runner import Policy

#: A map's card (``MapCard``), from ``maps``; the caller adds the ``WHERE``.
_CARD_SELECT = """SELECT id, title, owner, private, revision,
       (SELECT json_group_array(name) FROM
           (SELECT name FROM members WHERE map_id = maps.id ORDER BY name)) AS members,
       (SELECT count(*) FROM bubbles WHERE map_id = maps.id) AS bubble_count,
       (SELECT changed_at FROM map_activity WHERE map_id = maps.id) AS changed_at
FROM maps"""

# -- reads ---------------------------------------------------------------------------------


def get(db: sqlite3.Connection, map_id: int) -> Map | None:
    row = db.execute("SELECT id, title, owner, private, revision FROM maps WHERE id = ?",
                     (map_id,)).fetchone()
    if row is None:
        return None
    members = [r[0] for r in db.execute("SELECT name FROM members WHERE map_id = ? ORDER BY name", (map_id,))]
    return Map(id=row["id"], title=row["title"], owner=row["owner"], private=bool(row["private"]),
               members=members, revision=row["revision"])


def visible_to(db: sqlite3.Connection, name: str, limit: int | None = None,
               before: int | None = None) -> list[MapCard]:
    """Maps ``name`` may open, newest first: public ones, and private ones it owns or is a
    member of; at most ``limit``, with ids below ``before`` (a page's cursor)."""
    rows = db.execute(
        f"""{_CARD_SELECT}
            WHERE (private = 0 OR owner = :name
                   OR id IN (SELECT map_id FROM members WHERE name = :name))
              AND id < :before
            ORDER BY id DESC LIMIT :limit""",
        {"name": name, "before": MAX_ID if before is None else before,
         "limit": -1 if limit is None else limit}).fetchall()
    return [_card(r) for r in rows]


# -- writes --------------------------------------------------------------------------------

def create(db: sqlite3.Connection, policy: Policy, title: str, owner: str, private: bool) -> Map:
    """A new map of the account named ``owner``; raises ``Conflict`` (``too_many_maps``)
    when it owns ``policy.maps_per_user`` already, ``TooManyRequests`` when it made maps
    faster than ``policy.map_creations``."""
    owned = db.execute("SELECT count(*) FROM maps WHERE owner = ?", (owner,)).fetchone()[0]
    if policy.maps_per_user is not None and owned >= policy.maps_per_user:
        raise Conflict(f"you have {owned} maps, the most one account may have: delete one first",
                       details={"reason": "too_many_maps", "limit": policy.maps_per_user})
    if policy.map_creations is not None:
        budgets.spend(db, f"maps {name_key(owner)}", policy.map_creations, time.time(), "new maps")
    cursor = db.execute("INSERT INTO maps (title, owner, private) VALUES (?, ?, ?)",
                        (title, owner, int(private)))
    map_id = cursor.lastrowid or 0
    announce_card(db, map_id)
    made = get(db, map_id)
    assert made is not None  # inserted just now, in this transaction
    return made


def delete(db: sqlite3.Connection, map_id: int) -> Frame | None:
    """Delete a map (and its bubbles): its ``map-deleted`` frame, ``None`` if no such map."""
    card = _read_card(db, map_id)
    if card is None:
        return None
    db.execute("DELETE FROM maps WHERE id = ?", (map_id,))
    _schedule_for_lists(db, card, "map-removed", MapRemoved(map_id))
    return outbox.record(db, map_path(map_id), "map-deleted", {"id": map_id})


def add_member(db: sqlite3.Connection, policy: Policy, map_id: int, name: str) -> tuple[Map, Frame | None]:
    """Add a member: the map and its ``map-updated`` frame (``None``: already one)."""
    if db.execute("SELECT 1 FROM maps WHERE id = ?", (map_id,)).fetchone() is None:
        raise NotFound("no such map")
    check_room(db, "members", map_id, policy.members_per_map, "members_full")
    if not db.execute("INSERT OR IGNORE INTO members (map_id, name) VALUES (?, ?)", (map_id, name)).rowcount:
        unchanged = get(db, map_id)
        assert unchanged is not None  # seen above, in this transaction
        return unchanged, None
    return _changed(db, map_id)


def rename(db: sqlite3.Connection, map_id: int, title: str) -> tuple[Map, Frame]:
    """Give a map a new title: the map and its ``map-updated`` frame."""
    if not db.execute("UPDATE maps SET title = ? WHERE id = ?", (title, map_id)).rowcount:
        raise NotFound("no such map")
    return _changed(db, map_id)


# -- inside a write ------------------------------------------------------------------------

def check_room(db: sqlite3.Connection, table: str, map_id: int, limit: int | None, reason: str) -> None:
    """Raise ``Conflict`` (details ``{"reason", "limit"}``) if map ``map_id`` already has
    ``limit`` rows in ``table``; inside the write transaction, so racing writers cannot
    both take the last place."""
    if limit is None:
        return
    count = db.execute(f"SELECT count(*) FROM {table} WHERE map_id = ?", (map_id,)).fetchone()[0]
    if count >= limit:
        raise Conflict(f"this map is full: at most {limit} {table}",
                       details={"reason": reason, "limit": limit})


def announce_card(db: sqlite3.Connection, map_id: int) -> None:
    """The map's card changed: count a revision and schedule the new card for every list
    that shows it. Inside the change's transaction, like any outbox frame, so no list
    misses a change; scheduled (``outbox.schedule``), so a busy map sends each list about
    one card a second, not one per change."""
    db.execute("UPDATE maps SET revision = revision + 1 WHERE id = ?", (map_id,))
    card = _read_card(db, map_id)
    if card is not None:
        _schedule_for_lists(db, card, "map-card", card)


def _changed(db: sqlite3.Connection, map_id: int) -> tuple[Map, Frame]:
    """The map itself changed (title, members): its card goes to the lists, and its pages
    get the new map in a ``map-updated`` frame."""
    announce_card(db, map_id)
    changed = get(db, map_id)
    assert changed is not None  # changed just now, in this transaction
    return changed, outbox.record(db, map_path(map_id), "map-updated", changed)


def _read_card(db: sqlite3.Connection, map_id: int) -> MapCard | None:
    row = db.execute(f"{_CARD_SELECT} WHERE id = ?", (map_id,)).fetchone()
    return None if row is None else _card(row)


def _card(row: sqlite3.Row) -> MapCard:
    return MapCard(id=row["id"], title=row["title"], owner=row["owner"], private=bool(row["private"]),
                   members=json.loads(row["members"]), bubble_count=row["bubble_count"],
                   changed_at=row["changed_at"], revision=row["revision"])


def _schedule_for_lists(db: sqlite3.Connection, card: MapCard, type: str, data: Any) -> None:
    """Schedule ``{type, data}`` about ``card`` for each list that shows it; one pending frame
    per map and list, so a removal replaces a card still waiting."""
    for audience in audiences(card.private, card.owner, card.members):
        outbox.schedule(db, list_path(audience), type, data, coalesce=f"map {card.id} {audience}")
