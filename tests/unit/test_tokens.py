"""Reading the token offered in ``Sec-WebSocket-Protocol`` (tokens.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sanic_wsns.tokens import MalformedToken, encode_token, read_offer


@given(st.text(min_size=1, max_size=200))
def test_every_token_the_clients_encode_reads_back_and_leaves_the_header(token):
    offer = read_offer([f"wsns.v1, {encode_token(token)}"])
    assert offer.protocol and offer.token == token and offer.rest == "wsns.v1"


def test_no_offer_is_no_protocol_and_no_token():
    assert read_offer([]) == read_offer([""])
    assert not read_offer([]).protocol and read_offer([]).token is None


@pytest.mark.parametrize("bad", ["wsns.token.", "wsns.token.a", "wsns.token.a=", "wsns.token.+/",
                                 "wsns.token._w", "wsns.token." + "a" * 9000])
def test_a_token_that_is_not_base64url_of_utf8_is_malformed(bad):
    with pytest.raises(MalformedToken):
        read_offer(["wsns.v1", bad])


def test_two_tokens_are_malformed():
    with pytest.raises(MalformedToken):
        read_offer([f"wsns.v1, {encode_token('a')}, {encode_token('b')}"])
