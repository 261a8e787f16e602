"""The arithmetic of ``liveness.py``: a killed instance is swept within the ttl of its
kill, and a live one is never declared dead for fewer than three missed refreshes."""

import pytest

from sanic_wsns.liveness import lifetime, period


@pytest.mark.parametrize("ttl", [1.0, 3.0, 60.0])
def test_dead_then_swept_within_the_ttl_with_a_sixth_of_slack(ttl):
    # Dead ``lifetime`` after its last refresh (which precedes the kill), then swept by
    # the next sweep at most one period later.
    assert lifetime(ttl) + period(ttl) <= ttl * 5 / 6 + 1e-9


@pytest.mark.parametrize("ttl", [1.0, 3.0, 60.0])
def test_a_live_instance_must_miss_three_refreshes_in_a_row_to_be_declared_dead(ttl):
    missed_refreshes = lifetime(ttl) / period(ttl) - 1  # the last one races the deadline
    assert missed_refreshes >= 3
