"""Wire protocol v1: decoding client frames and encoding server frames, without I/O.

Every frame is a JSON object ``{"type": str, "data": any, "id"?: int}``. Server frames
are encoded once and wrapped once into a WebSocket text frame (``ws_text_frame``): a
server never masks, so the very same bytes can be written to every client of a broadcast
(with ``WSNS_COMPRESSION``, every client that negotiated permessage-deflate gets the same
compressed bytes: deflate.py).

v1.1 adds, without changing a v1 frame: a top-level ``offset`` on broadcasts in a history
namespace (the broker numbers them: see recovery.py), ``position``/``recovered`` in the
welcome, and the ``presence_state``/``presence_diff`` frames (presence.py).
"""

from __future__ import annotations

import struct
from typing import Annotated, Any, final

import msgspec

from .errors import ErrorCode, InvalidMessage
from .recovery import Position

#: Types the server sends on its own; clients must not use them as message types.
RESERVED_SERVER_TYPES = frozenset({"welcome", "reply", "error", "pong", "resync",
                                   "presence_state", "presence_diff"})
PING = "ping"
#: v1.2: the reserved request carrying a fresh token (``{"token": ...}``) before expiry.
REFRESH = "refresh"
#: What a request key may be: 1 to 64 of these characters.
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


@final  # screening's decisions are told apart by ``type(...) is``
class Incoming(msgspec.Struct, frozen=True):
    """A client frame with its ``data`` left undecoded until a handler's type is known."""

    type: str
    data: msgspec.Raw = msgspec.Raw(b"null")
    id: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: v1.2: a request key (``idempotency.py``): the handler runs at most once per key.
    key: Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)] | None = None


class Outgoing(msgspec.Struct, omit_defaults=True):
    type: str
    data: Any  # always present, even when null
    id: int | None = None


class ErrorData(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    details: Any = None


#: What a client is told about a frame that nests deeper than the decoder can follow.
TOO_DEEP = "frame nests too deeply"

_decode_incoming = msgspec.json.Decoder(Incoming).decode
_encoder = msgspec.json.Encoder()


def decode_incoming(text: str | bytes) -> Incoming:
    """Parse one client frame; raises ``InvalidMessage`` saying what is wrong with it."""
    try:
        return _decode_incoming(text)
    except msgspec.ValidationError as exc:
        raise InvalidMessage(f"invalid frame: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidMessage(f"frame is not valid JSON: {exc}") from None
    except RecursionError:
        # msgspec guards its recursion with Python's limit, so a 2 KB frame of 1,000 open
        # brackets raises here; catching it costs a normal frame nothing.
        raise InvalidMessage(TOO_DEEP) from None


def encode(type: str, data: Any = None, id: int | None = None) -> bytes:
    """Encode a server frame to JSON bytes (raises ``TypeError`` for unencodable data)."""
    return _encoder.encode(Outgoing(type, data, id))


def encode_error(code: str, message: str, details: Any = None, id: int | None = None) -> bytes:
    return encode("error", ErrorData(code, message, details), id)


def encode_internal_error(id: int | None = None) -> bytes:
    return encode_error(ErrorCode.INTERNAL, "internal server error", id=id)


def ws_text_frame(payload: bytes) -> bytes:
    """Wrap JSON bytes into one unmasked, final WebSocket text frame (RFC 6455 §5.2)."""
    return frame_header(0x81, len(payload)) + payload


def frame_header(first: int, length: int) -> bytes:
    """An unmasked frame's header: ``first`` byte (FIN, RSV bits, opcode), then the length."""
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


class Limits(msgspec.Struct):
    """The limits a client is held to, announced in its ``welcome``."""

    max_frame_size: int
    rate_limit: float
    rate_burst: int


class Welcome(msgspec.Struct):
    """``welcome.data``: the first frame every admitted client receives."""

    client_id: str
    path: str
    params: dict[str, Any]
    public: Any
    limits: Limits
    heartbeat_interval: float
    protocol: int = 1
    #: v1.1, history namespaces only: every frame with a larger offset will follow.
    position: Position | msgspec.UnsetType = msgspec.UNSET
    #: v1.1, only when the client asked with ``since``: whether the missed frames follow.
    recovered: bool | msgspec.UnsetType = msgspec.UNSET
    #: v1.2, when the identity expires: seconds until the server closes with 4001.
    expires_in: float | msgspec.UnsetType = msgspec.UNSET
