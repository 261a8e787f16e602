"""The text/event-stream format, without I/O: bytes in, each event's data out.

Only ``data:`` matters to the client: the data is the whole frame (its JSON, as a WebSocket
would carry it), and recovery goes by the frame's ``offset``, so ``event:`` and ``id:`` are
read past. Comments (the server's ``: ping`` every heartbeat interval) are reported, because
they are what proves a quiet stream alive.
"""

from __future__ import annotations

import codecs

#: What ``feed`` yields for a comment line.
COMMENT = None


class EventTooLarge(ValueError):
    """An event (or an unfinished line) grew over the parser's limit."""


class EventStreamParser:
    """Feed chunks as they come (split anywhere, even inside a UTF-8 character); get back
    each complete event's data, and ``COMMENT`` for each comment line. ``limit`` bounds the
    bytes held for one event, so a stream that never ends its event cannot grow memory."""

    def __init__(self, limit: int | None = None):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._data: list[str] = []
        self._held = 0
        self._limit = limit

    def feed(self, chunk: bytes) -> list[str | None]:
        lines = (self._partial + self._decoder.decode(chunk)).split("\n")
        self._partial = lines.pop()
        found: list[str | None] = []
        for line in lines:
            self._line(line.removesuffix("\r"), found)
        self._check(self._held + len(self._partial))
        return found

    def _check(self, held: int) -> None:
        if self._limit is not None and held > self._limit:
            raise EventTooLarge(f"an event over {self._limit} bytes")

    def _line(self, line: str, found: list[str | None]) -> None:
        if not line:
            if self._data:
                found.append("\n".join(self._data))
            self._data, self._held = [], 0
        elif line.startswith(":"):
            found.append(COMMENT)
        elif line.startswith("data:"):
            value = line[5:].removeprefix(" ")
            self._data.append(value)
            self._held += len(value)
            self._check(self._held)
