"""Per-user budgets kept in the shared SQLite file: token buckets by account (and by what
they count: bubble edits, map creations).

The extension's rate limit is per connection (50 messages a second, and a user may hold
50 connections on each instance), and the REST throttle lives in one instance's memory:
one user made 980 bubble updates a second that way. Every edit is already one write
transaction on the database all instances share, so the account's bucket is read and
spent in that same transaction: the limit holds across connections and instances, costs
no extra round trip, and a refused edit rolls back with nothing written. The table has a
row per account and kind, so it is as bounded as the accounts themselves and nothing is
ever evicted (an eviction would hand a full bucket back).
"""

from __future__ import annotations

import sqlite3

from .throttle import Rate, TooManyRequests

SCHEMA = """
CREATE TABLE IF NOT EXISTS budgets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    stamp REAL NOT NULL
);
"""

#: The tokens a bucket holds at ``:now``: refilled at ``:rate`` since it was last spent (a
#: clock that went back refills nothing), never above ``:burst``.
_REFILLED = "min(:burst, tokens + max(0.0, :now - stamp) * :rate)"


def spend(db: sqlite3.Connection, key: str, rate: Rate, now: float, what: str = "edits") -> None:
    """Spend one of ``key``'s tokens; raises ``TooManyRequests`` ("too many ``what``",
    with the seconds until the next token) when none is left. Call it inside the
    change's own transaction: racing changes then cannot both take the last token."""
    params = {"key": key, "burst": float(rate.burst), "rate": rate.per_second, "now": now}
    db.execute("INSERT OR IGNORE INTO budgets (key, tokens, stamp) VALUES (:key, :burst, :now)", params)
    if db.execute(f"UPDATE budgets SET tokens = {_REFILLED} - 1.0, stamp = :now "
                  f"WHERE key = :key AND {_REFILLED} >= 1.0", params).rowcount:
        return
    tokens = db.execute(f"SELECT {_REFILLED} FROM budgets WHERE key = :key", params).fetchone()[0]
    raise TooManyRequests(f"too many {what}: slow down", (1.0 - tokens) / rate.per_second)
