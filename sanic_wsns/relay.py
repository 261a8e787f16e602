"""What instances say to each other through the broker, without I/O.

A relay message carries an already-encoded client frame as opaque bytes, so the
receiving instance writes it to its sockets without decoding or re-encoding it; the
origin instance id lets an instance skip its own publications (it delivered them
locally already).
"""

from __future__ import annotations

import enum

import msgspec


class Kind(enum.IntEnum):
    FRAME = 0  # deliver ``frame`` to every local client but ``exclude``
    REMOVE = 1  # close every local client with ``code``/``reason`` and drop the namespace
    PRESENCE = 2  # clients ``joins`` (id, public JSON) arrived and ``leaves`` (ids) left
    DISCONNECT = 3  # close every local connection of ``user`` with ``code``/``reason``


class RelayMessage(msgspec.Struct, array_like=True, frozen=True):
    origin: str
    kind: Kind
    frame: bytes = b""
    exclude: tuple[str, ...] = ()
    code: int = 0
    reason: str = ""
    joins: tuple[tuple[str, bytes], ...] = ()
    leaves: tuple[str, ...] = ()
    #: ``DISCONNECT``: whose connections close (an ``Identity.user``: a str or an int).
    user: str | int | None = None
    #: Wall-clock time of the publish, when the publisher measures pub/sub lag (metrics on).
    sent_at: float = 0.0


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(RelayMessage).decode


def encode_relay(message: RelayMessage) -> bytes:
    return _encode(message)


def decode_relay(payload: bytes) -> RelayMessage:
    """Raises ``msgspec.DecodeError`` for a payload that is not a relay message."""
    return _decode(payload)


# In a namespace with history the broker itself numbers each frame (one atomic script in
# Redis), so the offset and epoch travel in front of the relay message as ASCII:
# ``h<offset>:<epoch>:<relay message>``. A plain relay message is a msgpack array and never
# starts with ``h``.
_HISTORY = ord("h")


def history_payload(offset: int, epoch: str, message: bytes) -> bytes:
    """What the broker publishes for frame ``offset`` of ``epoch`` (memory:// builds it here;
    the Redis script builds the same bytes)."""
    return b"h%d:%s:%s" % (offset, epoch.encode(), message)


def split_history(payload: bytes) -> tuple[int, str, bytes] | None:
    """``(offset, epoch, relay message)`` of a history payload, or ``None`` for a plain one.

    Raises ``ValueError`` for a payload that starts like a history one but is malformed.
    """
    if not payload or payload[0] != _HISTORY:
        return None
    offset, epoch, message = payload[1:].split(b":", 2)
    return int(offset), epoch.decode(), message
