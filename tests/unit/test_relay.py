"""The relay envelope instances exchange through the broker."""

import msgspec
import pytest

from sanic_wsns.relay import Kind, RelayMessage, decode_relay, encode_relay


def test_a_frame_message_round_trips_with_its_bytes_untouched():
    frame = b"\x81\x05hello"
    message = RelayMessage("inst-1", Kind.FRAME, frame, ("c1", "c2"))
    decoded = decode_relay(encode_relay(message))
    assert decoded == message and decoded.frame is not frame and decoded.frame == frame


def test_a_remove_message_carries_its_code_and_reason():
    message = RelayMessage("inst-2", Kind.REMOVE, code=4410, reason="deleted")
    decoded = decode_relay(encode_relay(message))
    assert (decoded.kind, decoded.code, decoded.reason, decoded.frame) == (Kind.REMOVE, 4410, "deleted", b"")


def test_a_short_array_decodes_with_the_defaults_of_the_missing_fields():
    assert decode_relay(msgspec.msgpack.encode(["i", 0])) == RelayMessage("i", Kind.FRAME)


@pytest.mark.parametrize("payload", [b"", b"\xc1", msgspec.msgpack.encode({"origin": "i"}),
                                     msgspec.msgpack.encode(["i", 7]), msgspec.msgpack.encode([1, 0])])
def test_a_payload_that_is_not_a_relay_message_raises_a_msgspec_error(payload):
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        decode_relay(payload)
