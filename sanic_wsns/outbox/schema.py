"""The outbox table, for SQLite and for PostgreSQL (docs/outbox.md gives it for other drivers).

One row per frame. ``id`` is never reused (SQLite ``AUTOINCREMENT``, a PostgreSQL identity):
it is the frame's broadcast key. Times are Unix seconds from the instances' clocks.
``data`` is the frame's JSON as text (not ``jsonb``, which would reorder it).
"""

SQLITE = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    published_at REAL,
    claimed_by TEXT,
    claimed_until REAL,
    -- A scheduled frame (``schedule``): when a sweep publishes it, and the key under which
    -- a later frame replaces it until then. NULL for a frame announced at once.
    due REAL,
    coalesce_key TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (created) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_pending_by_key ON outbox (coalesce_key)
    WHERE published_at IS NULL AND claimed_by IS NULL AND coalesce_key IS NOT NULL;
"""

POSTGRES = """
CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    published_at DOUBLE PRECISION,
    claimed_by TEXT,
    claimed_until DOUBLE PRECISION,
    due DOUBLE PRECISION,
    coalesce_key TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (created) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_pending_by_key ON outbox (coalesce_key)
    WHERE published_at IS NULL AND claimed_by IS NULL AND coalesce_key IS NOT NULL;
"""
