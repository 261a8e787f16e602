"""Who may open a map: the one rule shared by the REST API and the WebSocket pattern."""

from __future__ import annotations

from sanic_wsns import Forbidden, NotFound

from .models import MAX_ID, Map
from .store import Store, maps


def may_open(found: Map, name: str) -> bool:
    """A public map: every signed-in user. A private map: its owner and members."""
    return not found.private or found.owner == name or name in found.members


async def open_map(store: Store, map_id: int, name: str) -> Map:
    """The map ``name`` may open; raises ``NotFound`` or ``Forbidden``.

    Route parameters are unbounded integers; beyond 64 bits no map can exist (and SQLite
    would refuse to bind the number), so such an id is simply not found.
    """
    found = await store.read(maps.get, map_id) if 1 <= map_id <= MAX_ID else None
    if found is None:
        raise NotFound("no such map")
    if not may_open(found, name):
        raise Forbidden("this map is private")
    return found


async def own_map(store: Store, map_id: int, name: str) -> Map:
    """The map, if ``name`` owns it; raises ``NotFound`` or ``Forbidden``."""
    found = await open_map(store, map_id, name)
    if found.owner != name:
        raise Forbidden("only the owner of a map may do this")
    return found
