"""``requested_position``: what a returning client's ``since``/``epoch`` query asks for."""

from __future__ import annotations

import pytest

from sanic_wsns.recovery import INVALID_SINCE, requested_position


def test_no_since_is_no_request():
    assert requested_position(None, "abc") == (None, None)


def test_a_whole_offset_and_an_epoch_are_taken_as_they_are():
    assert requested_position("42", "5f0e1c2d") == (42, "5f0e1c2d")
    assert requested_position("0", None) == (0, None)


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "1e30", "", " 1", "\uff11\uff12",
                                   "9" * 19, "9" * 4000])
def test_a_since_that_is_not_a_small_whole_number_is_invalid(since):
    assert requested_position(since, "5f0e1c2d")[0] == INVALID_SINCE


@pytest.mark.parametrize("epoch", ["e" * 65, "5f0e:1c2d", "ép0ch", "a b", "a.b", "x" * 10_000])
def test_an_epoch_no_stream_can_have_is_invalid(epoch):
    assert requested_position("3", epoch) == (INVALID_SINCE, None)
