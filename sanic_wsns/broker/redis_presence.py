"""Presence in Redis, without a connection: key names and the four scripts (files in lua/).

Per namespace a hash of entries (client id → public JSON) and a sorted set of expiry times,
Centrifugo's layout; times come from Redis's own clock (``TIME`` inside the scripts), so
instances with skewed clocks agree on who expired. Both keys take the channel as hash tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..presence import Entries

_LUA = Path(__file__).with_name("lua")
ADD_SCRIPT = (_LUA / "presence_add.lua").read_text()
REMOVE_SCRIPT = (_LUA / "presence_remove.lua").read_text()
EXPIRE_SCRIPT = (_LUA / "presence_expire.lua").read_text()
GET_SCRIPT = (_LUA / "presence_get.lua").read_text()


def presence_keys(channel: str) -> tuple[str, str]:
    """The expiry zset and entries hash of ``channel``, in its cluster slot."""
    if "{" in channel or "}" in channel:
        raise ValueError(f"channel {channel!r} cannot hold braces when it tracks presence")
    return f"{{{channel}}}:presence:expiry", f"{{{channel}}}:presence:entries"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_ids(reply: list[Any]) -> list[str]:
    return [_text(v) for v in reply]


def parse_entries(reply: list[Any]) -> Entries:
    """``{id, public, id, public, …}`` → ``{id: public}``."""
    return {_text(reply[i]): bytes(reply[i + 1]) for i in range(0, len(reply), 2)}
