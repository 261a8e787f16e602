"""The offset header in front of a history namespace's relay message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sanic_wsns.relay import Kind, RelayMessage, encode_relay, history_payload, split_history


def test_a_plain_relay_message_is_not_a_history_payload():
    assert split_history(encode_relay(RelayMessage("i", Kind.FRAME, b"{}"))) is None
    assert split_history(b"") is None


@given(st.integers(0, 2**53), st.text(st.characters(codec="ascii", exclude_characters=":"), min_size=1),
       st.binary())
def test_history_payloads_round_trip(offset, epoch, message):
    assert split_history(history_payload(offset, epoch, message)) == (offset, epoch, message)


@pytest.mark.parametrize("payload", [b"h", b"hx:e:m", b"h1"])
def test_a_malformed_history_payload_raises_value_error(payload):
    with pytest.raises(ValueError):
        split_history(payload)
