"""permessage-deflate's pure part (``sanic_wsns.deflate``): which offers are accepted, and
frames compressed once so that any client that agreed can read them, each on its own."""

import random
import zlib

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from sanic_wsns.deflate import AGREEMENT, FrameDeflater, accept
from sanic_wsns.protocol import ws_text_frame
from tests.support.rawframes import server_frames

JSON = b'{"type":"bubble-updated","data":{"id":7,"text":"' + b"hello bubble " * 80 + b'"}}'


def inflate(frame: bytes) -> bytes:
    """Read one frame as a client that agreed on the extension does (websockets' own
    decoder, starting from an empty window: nothing carried over from earlier frames)."""
    [parsed] = server_frames(frame)
    decoder = PerMessageDeflate(remote_no_context_takeover=True, local_no_context_takeover=True,
                                remote_max_window_bits=15, local_max_window_bits=15)
    return bytes(decoder.decode(parsed, max_size=1 << 20).data)


# -- negotiation -------------------------------------------------------------------------------

@pytest.mark.parametrize("offer", [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",  # what Chromium and websockets offer
    "permessage-deflate; client_max_window_bits=10",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=15",
    'permessage-deflate; client_max_window_bits="12"',
    "x-webkit-deflate-frame, permessage-deflate",
])
def test_a_valid_offer_gets_the_one_agreement(offer):
    assert accept([offer]) == AGREEMENT


def test_the_agreement_asks_no_context_takeover_both_ways():
    assert accept(["permessage-deflate"]) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover")


@pytest.mark.parametrize("offer", [
    "permessage-deflate; server_max_window_bits=10",   # shared bytes use a 32 KiB window
    "permessage-deflate; server_max_window_bits",       # needs a value
    "permessage-deflate; client_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=08",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; unknown_param",
    "x-webkit-deflate-frame",
    "",
    "permessage-deflate;;",
    "permessage-deflate; =15",
    "permessage-deflate; client_max_window_bits=\"unterminated",
    "\x00\xff garbage",
])
def test_an_offer_the_server_cannot_honour_gets_no_extension_and_no_error(offer):
    assert accept([offer]) is None


def test_a_later_valid_offer_is_taken_when_an_earlier_one_is_declined():
    assert accept(["permessage-deflate; server_max_window_bits=9, permessage-deflate"]) == AGREEMENT
    assert accept(["permessage-deflate; server_max_window_bits=9", "permessage-deflate"]) == AGREEMENT


def test_no_offer_no_extension():
    assert accept([]) is None


# -- compression -------------------------------------------------------------------------------

def test_a_frame_over_the_threshold_is_compressed_with_rsv1_and_reads_back_whole():
    deflated = FrameDeflater(256).deflate(ws_text_frame(JSON))
    [frame] = server_frames(deflated)
    assert frame.rsv1 and frame.fin and frame.opcode is Opcode.TEXT
    assert len(deflated) < len(JSON) // 4
    assert inflate(deflated) == JSON


def test_a_frame_under_the_threshold_is_the_same_frame():
    small = ws_text_frame(b'{"type":"pong","data":' + b"1" * 200 + b"}")
    assert FrameDeflater(256).deflate(small) is small


def test_a_frame_that_would_not_shrink_is_the_same_frame():
    noise = ws_text_frame(random.Random(1).randbytes(2048))
    assert FrameDeflater(16).deflate(noise) is noise


def test_each_frame_reads_alone_so_every_client_can_take_the_same_bytes():
    """server_no_context_takeover: a later frame never refers to an earlier one, so a
    client that joined between them (an empty window) reads it."""
    deflater = FrameDeflater(0)
    first = deflater.deflate(ws_text_frame(JSON))
    second = deflater.deflate(ws_text_frame(JSON))
    assert inflate(second) == JSON
    assert second == first  # nothing carried over: the same input, the same bytes


@pytest.mark.parametrize("size", [100, 1000, 100_000, 200_000])
def test_every_length_encoding_of_the_header_reads_back(size):
    """Hex digits compress to about half: compressed payloads under 126 bytes, under
    65,536 and over it (the three header forms) all read back."""
    payload = random.Random(size).randbytes(size // 2).hex().encode()
    deflated = FrameDeflater(0).deflate(ws_text_frame(payload))
    assert server_frames(deflated)[0].rsv1
    assert inflate(deflated) == payload


def test_compressed_frames_are_raw_deflate_without_the_flush_tail():
    deflated = FrameDeflater(0).deflate(ws_text_frame(JSON))
    data = bytes(server_frames(deflated)[0].data)
    assert not data.endswith(b"\x00\x00\xff\xff")  # RFC 7692 §7.2.1: the sender drops it
    assert zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff") == JSON


def test_the_frames_websockets_reads_are_the_frames_sent():
    """A check on the test's own decoder: an uncompressed frame passes through it."""
    assert Frame(Opcode.TEXT, JSON).serialize(mask=False) == ws_text_frame(JSON)
