"""Where bubblemap's frames go: the one namespace pattern, and a map's path in it."""

from __future__ import annotations

MAP_PATTERN = "/api/1/ws/bubblemap/<map_id:int>"


def map_path(map_id: int) -> str:
    return f"/api/1/ws/bubblemap/{map_id}"
