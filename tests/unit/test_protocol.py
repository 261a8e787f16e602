"""Wire protocol v1 encoding and decoding, without sockets."""

import pytest
from websockets.frames import Frame
from websockets.streams import StreamReader

from sanic_wsns.errors import InvalidMessage
from sanic_wsns.protocol import decode_incoming, encode, encode_error, ws_text_frame


def parse_frame(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_ws_text_frame_is_a_valid_unmasked_text_frame_at_every_length_boundary(size):
    payload = b"x" * size
    frame = parse_frame(ws_text_frame(payload))
    assert frame.fin and frame.opcode.name == "TEXT" and frame.data == payload


def test_request_frame_decodes_with_raw_data_and_id():
    incoming = decode_incoming('{"type": "add", "data": {"a": 1}, "id": 7}')
    assert (incoming.type, bytes(incoming.data), incoming.id) == ("add", b'{"a": 1}', 7)


def test_data_and_id_are_optional():
    incoming = decode_incoming('{"type": "hello"}')
    assert (incoming.type, bytes(incoming.data), incoming.id) == ("hello", b"null", None)


@pytest.mark.parametrize("text", [
    "not json", "[1, 2]", '"type"', "null", "{}", '{"type": 1}', '{"data": {}}',
    '{"type": "a", "id": 0}', '{"type": "a", "id": -3}', '{"type": "a", "id": "1"}',
    '{"type": "a", "id": 1.5}', '{"type": "a", "id": true}', '{"type": "a"',
])
def test_malformed_frames_raise_invalid_message(text):
    with pytest.raises(InvalidMessage):
        decode_incoming(text)


@pytest.mark.parametrize("text", [
    '{"type": "a", "data": ' + "[" * 1000 + "]" * 1000 + "}",  # the 2 KB frame of issue 14
    '{"type": "a", "data": ' + '{"k":' * 5000 + "1" + "}" * 5000 + "}",
    '{"type": "a", "data": ' + "[" * 100_000,  # not even closed
], ids=["arrays-1000", "objects-5000", "unclosed-100000"])
def test_a_frame_nested_deeper_than_the_decoder_can_take_is_invalid_message(text):
    with pytest.raises(InvalidMessage, match="nest"):
        decode_incoming(text)


def test_encode_omits_a_missing_id_and_keeps_null_data():
    assert encode("pong") == b'{"type":"pong","data":null}'
    assert encode("reply", {"x": 1}, 3) == b'{"type":"reply","data":{"x":1},"id":3}'


def test_error_frame_carries_code_message_and_details():
    assert encode_error("conflict", "stale", {"version": 2}, 9) == (
        b'{"type":"error","data":{"code":"conflict","message":"stale",'
        b'"details":{"version":2}},"id":9}')
