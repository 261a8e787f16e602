"""When an instance that stopped refreshing is declared dead: one rule for presence entries
(``tracker.py``) and for occupancy and online status (``occupancy.py``).

The promise is a bound measured from the kill: whatever a ``kill -9``ed instance held is
gone within ``ttl`` (``WSNS_PRESENCE_TTL``). Its last refresh precedes the kill, so what it
wrote is declared dead ``LIFETIME`` after that refresh, and a sweep (one every ``PERIOD``)
takes it back at most one period later: ``LIFETIME + PERIOD`` must not exceed ``ttl``.

Refreshing and sweeping are one tick, every ``ttl / 6``; what an instance writes lives
``2 ttl / 3``, four ticks. A live instance is declared dead only when three refreshes in
a row failed to land (a stalled event loop, a slow broker): two missed refreshes are not
enough, one is routine under load. The bound from the kill: ``2 ttl / 3 + ttl / 6 =
5 ttl / 6``; the last sixth is slack for the sweep's own broker calls and a late tick.
"""

from __future__ import annotations

#: Refreshes (and sweeps) per ttl.
TICKS_PER_TTL = 6
#: Ticks a write outlives its refresh: the refreshes that must all fail, plus one.
TICKS_ALIVE = 4


def period(ttl: float) -> float:
    """Seconds between two refreshes, and between two sweeps."""
    return ttl / TICKS_PER_TTL


def lifetime(ttl: float) -> float:
    """Seconds a refresh keeps its writer alive: past them, it is dead."""
    return period(ttl) * TICKS_ALIVE
