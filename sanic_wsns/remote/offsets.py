"""Recovery bookkeeping of a history namespace, without I/O (wsns.js's ``OffsetTracker``).

The client keeps the last offset and the epoch, asks for the frames after them on
reconnect (``since``/``epoch``), and drops a frame whose offset it already has: the
recovered and the live copies of a frame can overlap, and the app must see each once.
"""

from __future__ import annotations

from typing import Any

from ..recovery import Position
from .wire import Frame


def as_position(value: Any) -> Position | None:
    """``{"offset": int, "epoch": str}`` as a ``Position``, or None for anything else."""
    if not isinstance(value, dict):
        return None
    offset, epoch = value.get("offset"), value.get("epoch")
    if isinstance(offset, int) and not isinstance(offset, bool) and isinstance(epoch, str):
        return Position(offset, epoch)
    return None


class OffsetTracker:
    def __init__(self) -> None:
        self.offset: int | None = None
        self.epoch: str | None = None

    @property
    def position(self) -> Position | None:
        if self.offset is None or self.epoch is None:
            return None
        return Position(self.offset, self.epoch)

    def query(self) -> dict[str, str]:
        """The recovery parameters of the next upgrade URL: ``{since, epoch}``, or ``{}``."""
        position = self.position
        return {"since": str(position.offset), "epoch": position.epoch} if position else {}

    def welcome(self, welcome: Any, reconnected: bool) -> bool:
        """Take a connection's welcome data. Returns whether the app must re-fetch without
        the server telling it: a reconnect that could not ask for recovery (no history). When
        the server answered the request (``recovered`` true or false) it is the server's
        call: false is followed by its own ``resync`` frame."""
        data = welcome if isinstance(welcome, dict) else {}
        position = as_position(data.get("position"))
        recovered = data.get("recovered")
        if position is not None:
            # Recovered: the missed frames (our offset + 1 ...) follow; keep our offset to take them.
            if recovered is not True or self.offset is None or self.epoch != position.epoch:
                self.offset = position.offset
            self.epoch = position.epoch
        else:
            self.offset = self.epoch = None
        return reconnected and not isinstance(recovered, bool)

    def moved(self, position: Any) -> None:
        """A server ``resync`` saying where delivery goes on from (a new epoch restarts the
        offsets at 1: keeping the old offset would drop every new frame as a duplicate)."""
        moved = as_position(position)
        if moved is not None:
            self.offset, self.epoch = moved.offset, moved.epoch

    def accept(self, frame: Frame) -> bool:
        """False when ``frame``'s offset is one already seen (a duplicate to drop)."""
        offset = frame.get("offset")
        if not isinstance(offset, int) or isinstance(offset, bool):
            return True
        if self.offset is not None and offset <= self.offset:
            return False
        self.offset = offset
        return True
