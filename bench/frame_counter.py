"""A load-generator connection that counts broadcasts from the frame headers itself.

Issue 28 goal 4: even with ``json.loads`` gone (``CountingDialect``), websockets' reader
cost the 100k broadcast's generators 27 to 50 µs of CPU per delivery against the servers' 7
(a parser generator, an event, an assembler queue and a reader task per frame), so they,
not the servers, could bound the time to the last delivery. Once a client has joined,
``count_frames`` takes its bytes off websockets' path: ``data_received`` walks the frame
headers (server frames are unmasked), counts each text frame holding ``mark`` and answers
pings with a pong, all in the one callback per read. A close (or any other frame) hands
the bytes back to websockets, so closing stays websockets' handshake.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.loadgen import StampedConnection

TEXT, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x8, 0x9, 0xA, 0x0
#: A pong's first byte (FIN + opcode) and the mask bit its length byte carries: a client's
#: frames must be masked; the all-zero key leaves the payload as it is.
PONG_HEAD, MASKED, ZERO_KEY = 0x80 | PONG, 0x80, b"\0\0\0\0"


def frame_bounds(buffer: bytes | bytearray, pos: int) -> tuple[int, int, int] | None:
    """``(opcode, payload start, payload end)`` of the frame at ``pos``, or None when
    ``buffer`` does not hold all of it yet."""
    end = len(buffer)
    if end - pos < 2:
        return None
    length, start = buffer[pos + 1] & 0x7F, pos + 2
    if length >= 126:
        size = 2 if length == 126 else 8
        if end - start < size:
            return None
        length, start = int.from_bytes(buffer[start:start + size], "big"), start + size
    if end - start < length:
        return None
    return buffer[pos] & 0x0F, start, start + length


class FrameCountingConnection(StampedConnection):
    """``StampedConnection`` that, once ``count_frames`` is called, counts frames itself."""

    counted: Callable[[], None] | None = None
    mark = b""
    pending = b""

    def count_frames(self, mark: bytes, counted: Callable[[], None]) -> None:
        """From now on call ``counted`` per text frame holding ``mark``. Whatever websockets
        had read but not parsed (part of a frame header) is taken over: its parser waits at
        a frame boundary, where ``hand_back`` resumes it."""
        self.mark, self.counted = mark, counted
        reader = self.protocol.reader.buffer
        self.pending = bytes(reader)
        reader.clear()

    def data_received(self, data: bytes) -> None:
        if self.counted is None:
            super().data_received(data)
            return
        self.received_ns = time.monotonic_ns()
        buffer = self.pending + data if self.pending else data
        pos = 0
        while (bounds := frame_bounds(buffer, pos)) is not None:
            opcode, start, end = bounds
            if opcode in (TEXT, CONTINUATION):
                if buffer.find(self.mark, start, end) >= 0:
                    self.counted()
            elif opcode == PING:
                head = bytes((PONG_HEAD, MASKED | (end - start)))  # a ping's payload is < 126 bytes
                self.transport.write(head + ZERO_KEY + buffer[start:end])
            elif opcode != PONG:  # a close, or a frame this counter does not know
                self.hand_back(buffer[pos:])
                return
            pos = end
        self.pending = bytes(buffer[pos:])

    def hand_back(self, rest: bytes | bytearray) -> None:
        """websockets reads again, from the frame boundary ``rest`` starts at."""
        self.counted, self.pending = None, b""
        super().data_received(bytes(rest))
