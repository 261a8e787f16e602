"""``ConnectRate``: connection opens per user, over a caller-supplied clock."""

from __future__ import annotations

from sanic_wsns.admission import ConnectRate


def test_a_user_gets_its_burst_then_waits_for_the_rate():
    rate = ConnectRate(2.0, 3)
    assert [rate.allow("ann", 0.0) for _ in range(3)] == [None, None, None]
    assert rate.allow("ann", 0.0) == 0.5  # one token every half second
    assert rate.allow("ann", 0.5) is None


def test_users_are_limited_apart_and_anonymous_or_unhashable_ones_not_at_all():
    rate = ConnectRate(1.0, 1)
    assert rate.allow("ann", 0.0) is None and rate.allow("ann", 0.0) is not None
    assert rate.allow("bob", 0.0) is None
    for _ in range(5):
        assert rate.allow(None, 0.0) is None
        assert rate.allow({"id": 1}, 0.0) is None
        assert rate.allow(("a", ["b"]), 0.0) is None


def test_no_rate_means_no_limit():
    rate = ConnectRate(None, 1)
    assert all(rate.allow("ann", 0.0) is None for _ in range(100))


def test_the_buckets_are_bounded_and_idle_ones_go_first():
    rate = ConnectRate(1.0, 2, max_users=3)
    for n in range(10):
        rate.allow(f"idle{n}", n / 10)  # full again 2 s later
    assert len(rate) == 3  # the least recently used went
    rate.allow("busy", 10.0)
    rate.allow("busy", 10.0)  # emptied: its bucket must survive
    rate.allow("new", 10.0)  # over the bound: the idle ones are forgotten
    assert len(rate) == 2
    assert rate.allow("busy", 10.0) is not None  # still remembered as empty
