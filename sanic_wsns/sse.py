"""Server-sent events (core idea 13), without I/O: frames as events, and positions back.

An SSE client gets every frame a WebSocket client would, each as one event::

    event: <the frame's type>
    id: <epoch>:<offset>            (frames with an offset, and positions: see below)
    data: <the frame's JSON, byte for byte what the WebSocket carries>

The hub hands every client ready WebSocket frames (``protocol.ws_text_frame``: encoded
once per broadcast); ``payload`` takes the JSON back out of one, and ``FrameEvents``
turns it into an event once per broadcast too (the hub writes the same bytes object to
every client in turn). ``welcome`` (with a position) and a ``resync`` that moves the
position carry an ``id`` as well: an ``EventSource`` that reconnects before any numbered
frame still resends ``Last-Event-ID`` and is caught up, not re-fetched.

``requested`` reads a position back from ``Last-Event-ID`` (or ``since``/``epoch``) into
what ``recovery.requested_position`` judges, so garbage becomes an ``invalid_position``
resync, never an error.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from .recovery import Position

#: The reserved types whose data may carry a ``position`` (an event id of their own).
POSITIONED = frozenset({"welcome", "resync"})
#: An ``: ping`` comment: keeps proxies from timing the stream out, and tells a reader the
#: stream is alive.
PING = b": ping\n\n"
#: The first bytes of a stream: they flush the response headers before the welcome.
OPENING = b": wsns\n\n"
#: The longest ``Last-Event-ID`` read (an epoch of 64 characters, ``:``, 18 digits).
MAX_EVENT_ID = 90


class _Head(msgspec.Struct):
    type: str
    offset: int | None = None


class _Positioned(msgspec.Struct):
    position: Position | None = None


class _PositionedFrame(msgspec.Struct):
    data: _Positioned | None = None


_decode_head = msgspec.json.Decoder(_Head).decode
_decode_positioned = msgspec.json.Decoder(_PositionedFrame).decode


def payload(frame: bytes) -> bytes:
    """The JSON inside one unmasked WebSocket text frame built by ``ws_text_frame``."""
    length = frame[1]
    return frame[2:] if length < 126 else frame[4:] if length == 126 else frame[10:]


def event(type: str, data: bytes, id: str | None = None) -> bytes:
    """One event. msgspec escapes every control character inside JSON strings, so a
    frame's JSON is one line; any line break found anyway starts another ``data:`` line
    (readers join them with ``\\n``), so no input can end an event early or forge a field."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    head = b"event: %s\n" % _field(type).encode()
    if id is not None:
        head += b"id: %s\n" % _field(id).encode()
    return head + b"".join(b"data: %s\n" % line for line in lines) + b"\n"


def _field(value: str) -> str:
    """A field value on one line (a type is the app's string; it must not break the event)."""
    return value.replace("\r", " ").replace("\n", " ")


def event_id(position: Position) -> str:
    return f"{position.epoch}:{position.offset}"


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (a stream's length is not known: Sanic sends it chunked)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class FrameEvents:
    """Frames to events for one stream. It follows the stream's epoch (from ``welcome``
    and ``resync``) so that numbered frames get ``<epoch>:<offset>`` ids; the last event
    made, and its chunk, are shared by every stream (one encoding per broadcast, not per
    client: chunking an event again for each client was an eighth of a delivery's CPU)."""

    __slots__ = ("epoch",)

    #: The last frame encoded, the epoch it was encoded under, and its event and chunk.
    _last: ClassVar[tuple[bytes, str, bytes, bytes]] = (b"", "", b"", b"")

    def __init__(self) -> None:
        self.epoch = ""

    def encode(self, frame: bytes, extra: dict[str, Any] | None = None) -> bytes:
        """The event for one WebSocket frame; ``extra`` fields go into a ``welcome``'s data
        (``client_token``)."""
        return self._made(frame, extra)[0]

    def chunk(self, frame: bytes, extra: dict[str, Any] | None = None) -> bytes:
        """The event as one HTTP/1.1 chunk, as a stream writes it. Once per stream per
        broadcast: the shared one is looked up here, with no further call."""
        last = FrameEvents._last
        if last[0] is frame and last[1] == self.epoch:
            return last[3]
        return self._made(frame, extra)[1]

    def _made(self, frame: bytes, extra: dict[str, Any] | None) -> tuple[bytes, bytes]:
        last = FrameEvents._last
        if last[0] is frame and last[1] == self.epoch:
            return last[2], last[3]
        json = payload(frame)
        head = _decode_head(json)
        if head.type in POSITIONED:
            made = self._positioned(head.type, json, extra)
            return made, chunk(made)
        id = None if head.offset is None else f"{self.epoch}:{head.offset}"
        made = event(head.type, json, id)
        chunked = chunk(made)
        FrameEvents._last = (frame, self.epoch, made, chunked)
        return made, chunked

    def _positioned(self, type: str, json: bytes, extra: dict[str, Any] | None) -> bytes:
        try:
            data = _decode_positioned(json).data
        except msgspec.ValidationError:  # an app's own broadcast of that type: no position
            data = None
        position = None if data is None else data.position
        if position is not None:
            self.epoch = position.epoch
        if type == "welcome" and extra:
            frame = msgspec.json.decode(json)
            frame["data"].update(extra)
            json = msgspec.json.encode(frame)
        return event(type, json, None if position is None else event_id(position))


def requested(last_event_id: str | None, since: str | None,
              epoch: str | None) -> tuple[str | None, str | None]:
    """``(since, epoch)`` as ``recovery.requested_position`` reads them: from
    ``Last-Event-ID`` (``<epoch>:<offset>``; what an ``EventSource`` resends on its own
    reconnect, so it wins over the URL's first ``since``/``epoch``), else from the query.
    An id that is not of that shape gives a ``since`` no stream has (``invalid_position``)."""
    if not last_event_id:
        return since, epoch
    if len(last_event_id) > MAX_EVENT_ID or ":" not in last_event_id:
        return "-", None
    id_epoch, _, offset = last_event_id.rpartition(":")
    return offset, id_epoch


def post_answer(reply: bytes | None, frames: list[bytes]) -> bytes:
    """A POST's answer, ``{"reply": <reply or error frame, or null>, "frames": [...]}``,
    from frames already encoded (never decoded and encoded again)."""
    return b'{"reply":%s,"frames":[%s]}' % (reply or b"null", b",".join(frames))
