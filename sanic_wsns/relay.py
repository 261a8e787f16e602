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


class RelayMessage(msgspec.Struct, array_like=True, frozen=True):
    origin: str
    kind: Kind
    frame: bytes = b""
    exclude: tuple[str, ...] = ()
    code: int = 0
    reason: str = ""


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(RelayMessage).decode


def encode_relay(message: RelayMessage) -> bytes:
    return _encode(message)


def decode_relay(payload: bytes) -> RelayMessage:
    """Raises ``msgspec.DecodeError`` for a payload that is not a relay message."""
    return _decode(payload)
