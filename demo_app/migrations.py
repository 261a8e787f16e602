"""What a database made by an earlier bubblemap lacks, added when a store opens it.

The tables' ``CREATE`` statements (``store/schema.py``, the library's outbox schema) describe
them as they are now; ``CREATE TABLE IF NOT EXISTS`` leaves an older file's tables as they
were. So every column added since the first release is listed here too, and added to an
existing table that lacks it (SQLite's ``ADD COLUMN`` keeps the rows: the new column reads
``NULL``, or its default); a table not there yet is created whole after this, with its
indexes (the outbox's index on ``coalesce_key`` needs that column first). Then come the
statements that need those columns (an index on one of them). It all runs in the store's
opening transaction, so instances opening one old file together add each column once.
"""

from __future__ import annotations

import sqlite3

from .accounts import skeleton

#: (table, column, declaration), in the order they were added.
ADDED_COLUMNS = [
    ("bubbles", "edited_by", "TEXT"),
    ("bubbles", "edited_at", "REAL"),
    ("maps", "revision", "INTEGER NOT NULL DEFAULT 0"),
    ("outbox", "due", "REAL"),
    ("outbox", "coalesce_key", "TEXT"),
    ("users", "skeleton", "TEXT"),
]

#: Run after the columns exist.
AFTER_COLUMNS = [
    "CREATE INDEX IF NOT EXISTS users_by_skeleton ON users (skeleton)",
]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Bring an opened database up to date; the ``table.column`` names it added."""
    added = []
    for table, column, declaration in ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if present and column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            added.append(f"{table}.{column}")
    for statement in AFTER_COLUMNS:
        db.execute(statement)
    _fill_skeletons(db)
    return added


def _fill_skeletons(db: sqlite3.Connection) -> None:
    """Give accounts made before names had skeletons theirs (from the name as shown)."""
    rows = db.execute("SELECT key, name FROM users WHERE skeleton IS NULL").fetchall()
    db.executemany("UPDATE users SET skeleton = ? WHERE key = ?",
                   [(skeleton(name), key) for key, name in rows])
