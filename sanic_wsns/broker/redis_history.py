"""History in Redis, without a connection: key names, the two scripts, and their replies.

Per namespace a stream (the last frames, ``MAXLEN``, ``EXPIRE``) and a meta hash (epoch
and last offset), written by ``lua/history_publish.lua`` together with the publish, read by
``lua/history_read.lua``: Centrifugo's design. Both keys take the channel as their hash tag,
so in a cluster they sit on the shard that owns the channel's ``SPUBLISH``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..recovery import Entry, Position

_LUA = Path(__file__).with_name("lua")
PUBLISH_SCRIPT = (_LUA / "history_publish.lua").read_text()
READ_SCRIPT = (_LUA / "history_read.lua").read_text()


def history_keys(channel: str) -> tuple[str, str]:
    """The stream and meta keys of ``channel``, in its cluster slot."""
    if "{" in channel or "}" in channel:
        # A brace would make Redis hash another part of the name: keys and channel could
        # land on different shards and the script would be refused in a cluster.
        raise ValueError(f"channel {channel!r} cannot hold braces when it keeps history")
    return f"{{{channel}}}:history", f"{{{channel}}}:meta"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_position(reply: list[Any]) -> Position:
    """``{offset, epoch, ...}`` from either script → ``Position``."""
    return Position(int(reply[0]), _text(reply[1]))


def parse_entries(rows: list[Any]) -> list[Entry]:
    """XRANGE rows ``[id, [b"f", frame]]`` → ``(offset, frame)`` in offset order."""
    entries: list[Entry] = []
    for entry_id, fields in rows:
        offset = int(_text(entry_id).partition("-")[0])
        entries.append((offset, bytes(fields[1])))
    return entries
