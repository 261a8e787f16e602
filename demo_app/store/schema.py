"""bubblemap's own tables, as they are now (``migrations.py`` brings an older file here).

``map_activity`` is kept by triggers, so no write path has to remember it.
"""

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
