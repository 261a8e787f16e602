"""Presence in Redis, without a connection: key names and the four scripts (files in lua/).

Per namespace a hash of entries (client id → public JSON) and a sorted set of expiry times,
Centrifugo's layout; times come from Redis's own clock (``TIME`` inside the scripts), so
instances with skewed clocks agree on who expired. Both keys take the channel as hash tag.
"""

from __future__ import annotations

from typing import Any

from ..presence import Entries
from .redis_scripts import load, tagged_keys, text

ADD_SCRIPT = load("presence_add")
REMOVE_SCRIPT = load("presence_remove")
EXPIRE_SCRIPT = load("presence_expire")
GET_SCRIPT = load("presence_get")


def presence_keys(channel: str) -> tuple[str, str]:
    """The expiry zset and entries hash of ``channel``, in its cluster slot."""
    expiry, entries = tagged_keys(channel, "presence:expiry", "presence:entries")
    return expiry, entries


def parse_ids(reply: list[Any]) -> list[str]:
    return [text(v) for v in reply]


def parse_entries(reply: list[Any]) -> Entries:
    """``{id, public, id, public, …}`` → ``{id: public}``."""
    return {text(reply[i]): bytes(reply[i + 1]) for i in range(0, len(reply), 2)}
