"""What every Redis script of sanic-wsns shares: its file in ``lua/``, keys that sit in
their channel's cluster slot, and replies read as text."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

_LUA = Path(__file__).with_name("lua")


def load(name: str) -> str:
    """The source of ``lua/<name>.lua``."""
    return (_LUA / f"{name}.lua").read_text()


def tagged_keys(channel: str, *suffixes: str) -> tuple[str, ...]:
    """Keys named after ``channel`` with the channel as their hash tag: in a cluster they
    live on the shard that owns the channel's ``SPUBLISH``, so one script may touch them
    and publish."""
    if "{" in channel or "}" in channel:
        # A brace would make Redis hash another part of the name: keys and channel could
        # land on different shards and the script would be refused in a cluster.
        raise ValueError(f"channel {channel!r} cannot hold braces when it keeps history or presence")
    return tuple(f"{{{channel}}}:{suffix}" for suffix in suffixes)


def text(value: Any) -> str:
    """A reply element as ``str`` (redis-py hands bytes back)."""
    return value.decode() if isinstance(value, bytes) else str(value)


_SHAS: dict[str, str] = {}


def sha(script: str) -> str:
    """The SHA1 Redis knows a script by (``EVALSHA``)."""
    digest = _SHAS.get(script)
    if digest is None:
        digest = _SHAS[script] = hashlib.sha1(script.encode()).hexdigest()
    return digest


def seconds(value: float) -> int:
    """``EXPIRE`` takes whole seconds; never round a ttl down to nothing."""
    return max(1, math.ceil(value))
