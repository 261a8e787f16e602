"""History in Redis, without a connection: key names, the two scripts, and their replies.

Per namespace a stream (the last frames, ``MAXLEN``, ``EXPIRE``) and a meta hash (epoch
and last offset), written by ``lua/history_publish.lua`` together with the publish, read by
``lua/history_read.lua``: Centrifugo's design. Both keys take the channel as their hash tag,
so in a cluster they sit on the shard that owns the channel's ``SPUBLISH``.
"""

from __future__ import annotations

from typing import Any

from ..recovery import Entry, Position
from .redis_scripts import load, tagged_keys, text

PUBLISH_SCRIPT = load("history_publish")
READ_SCRIPT = load("history_read")


def history_keys(channel: str) -> tuple[str, str]:
    """The stream and meta keys of ``channel``, in its cluster slot."""
    stream, meta = tagged_keys(channel, "history", "meta")
    return stream, meta


def parse_position(reply: list[Any]) -> Position:
    """``{offset, epoch, ...}`` from either script → ``Position``."""
    return Position(int(reply[0]), text(reply[1]))


def parse_entries(rows: list[Any]) -> list[Entry]:
    """XRANGE rows ``[id, [b"f", frame]]`` → ``(offset, frame)`` in offset order."""
    entries: list[Entry] = []
    for entry_id, fields in rows:
        offset = int(text(entry_id).partition("-")[0])
        entries.append((offset, bytes(fields[1])))
    return entries
