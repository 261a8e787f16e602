"""permessage-deflate (RFC 7692), opt-in (``WSNS_COMPRESSION``): which offers to accept,
and the one compression of a ready frame, without I/O.

Every agreement says ``server_no_context_takeover``: each message the server sends is
compressed from an empty window, so its bytes do not depend on what a client received
before, and a broadcast is compressed once and the same bytes (RSV1 set) go to every
client that negotiated the extension (core idea 4). One compressor serves them all: a
full flush after each message empties its window, which is what
``server_no_context_takeover`` asks, without building a new one (~270 KiB of zlib state)
per frame.

Every agreement also says ``client_no_context_takeover`` (RFC 7692 §7.1.1.2 lets a server
ask it whether or not the client offered it): a client's messages are then decompressed
from an empty window too, so a connection keeps no zlib state between messages; an idle
connection costs nothing more with compression on (bench: ``compression``).

Offers the server cannot honour are declined, never failed: an unknown or repeated
parameter, a bad value, a malformed header, or ``server_max_window_bits`` below 15 (the
shared bytes are compressed with a 32 KiB window; a client that cannot take it gets
uncompressed frames, as if it offered nothing).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from websockets.exceptions import InvalidHeader
from websockets.headers import parse_extension
from websockets.typing import ExtensionParameter

from .protocol import frame_header

NAME = "permessage-deflate"
#: The ``Sec-WebSocket-Extensions`` answer to an accepted offer: always the same.
AGREEMENT = f"{NAME}; server_no_context_takeover; client_no_context_takeover"
#: The window the server compresses with (2**15 bytes, the largest; RFC 7692 §7.1.2).
WINDOW_BITS = 15
#: zlib's fastest level, as Centrifugo's default: bench/compression.py's 7.5 KB bubblemap
#: snapshot shrinks to 2,683 bytes in 26 µs; level 6 (zlib's default) saves 11% more for
#: twice the CPU (2,401 bytes, 54 µs), and a snapshot is compressed once per client.
LEVEL = 1

_FLAGS = frozenset({"server_no_context_takeover", "client_no_context_takeover"})
_WINDOW_BITS = re.compile(r"^(8|9|1[0-5])$")  # RFC 7692 §7.1.2: 8 to 15, no leading zero
#: What a sync or full flush ends with; RFC 7692 §7.2.1 has the sender drop it.
_TAIL = b"\x00\x00\xff\xff"
_FIN_RSV1_TEXT = 0xC1


def accept(header_values: Sequence[str]) -> str | None:
    """The ``Sec-WebSocket-Extensions`` answer to a request's offers (the header's values),
    or ``None``: no offer the server can honour, or a header that does not parse."""
    try:
        offers = [offer for value in header_values for offer in parse_extension(value)]
    except InvalidHeader:
        return None
    for name, params in offers:
        if name == NAME and _acceptable(params):
            return AGREEMENT
    return None


def _acceptable(params: Sequence[ExtensionParameter]) -> bool:
    """Whether one ``permessage-deflate`` offer is valid and within what the server does
    (RFC 7692 §7: decline unknown or repeated parameters and bad values)."""
    names = [name for name, _ in params]
    if len(set(names)) != len(names):
        return False
    for name, value in params:
        if name in _FLAGS:
            if value is not None:
                return False
        elif name == "server_max_window_bits":
            if value is None or _WINDOW_BITS.match(value) is None or int(value) != WINDOW_BITS:
                return False
        elif name == "client_max_window_bits":
            # A hint (no value: "I can limit mine"; a value: "mine is at most this"): the
            # server decompresses with the largest window, which reads any smaller one.
            if value is not None and _WINDOW_BITS.match(value) is None:
                return False
        else:
            return False
    return True


class FrameDeflater:
    """Turns a ready text frame into the frame written to clients that negotiated
    permessage-deflate: compressed with RSV1 set, or the same frame when its payload is
    under ``threshold`` bytes or would not shrink."""

    __slots__ = ("threshold", "_compressor")

    def __init__(self, threshold: int):
        self.threshold = threshold
        self._compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -WINDOW_BITS)

    def deflate(self, frame: bytes) -> bytes:
        """``frame``: one unmasked, final text frame (``protocol.ws_text_frame``)."""
        start = _payload_start(frame)
        size = len(frame) - start
        if size < self.threshold:
            return frame
        compressor = self._compressor
        data = compressor.compress(memoryview(frame)[start:]) + compressor.flush(zlib.Z_FULL_FLUSH)
        compressed = len(data) - len(_TAIL)
        if compressed >= size:
            return frame
        return frame_header(_FIN_RSV1_TEXT, compressed) + data[:compressed]


def _payload_start(frame: bytes) -> int:
    length = frame[1] & 0x7F
    return 2 if length < 126 else 4 if length == 126 else 10

