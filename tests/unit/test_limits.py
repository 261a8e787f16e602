"""The token bucket and its abuse counter, over a hand-driven clock."""

import pytest

from sanic_wsns.limits import ConnectionCaps, TokenBucket


def test_burst_is_allowed_then_refused():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]


def test_tokens_refill_at_the_rate_and_cap_at_the_burst():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    for _ in range(5):
        bucket.take(0.0)
    assert bucket.take(0.1) and not bucket.take(0.1)
    assert sum(bucket.take(100.0) for _ in range(10)) == 5


def test_retry_after_is_the_time_to_the_next_token():
    bucket = TokenBucket(rate=4, burst=1, now=0.0)
    bucket.take(0.0)
    assert bucket.retry_after() == 0.25


def test_abuse_needs_more_refusals_than_the_limit_within_the_window():
    bucket = TokenBucket(rate=0.001, burst=1, now=0.0, abuse_limit=3, abuse_window=10)
    assert bucket.take(0.0)
    for t in (1.0, 2.0, 3.0):
        assert not bucket.take(t)
    assert not bucket.abusive
    assert not bucket.take(4.0)
    assert bucket.abusive


def test_refusals_outside_the_window_are_forgiven():
    bucket = TokenBucket(rate=0.001, burst=1, now=0.0, abuse_limit=2, abuse_window=1)
    bucket.take(0.0)
    bucket.take(0.1)
    bucket.take(0.2)
    bucket.take(5.0)
    assert not bucket.abusive


def test_connection_caps_count_in_total_and_per_identity():
    caps = ConnectionCaps(total_cap=3, identity_cap=2)
    assert caps.acquire("ann") and caps.acquire("ann") and not caps.acquire("ann")
    assert caps.acquire("bob") and not caps.acquire("cy")  # the total cap
    caps.release("ann")
    assert caps.held("ann") == 1 and caps.acquire("cy")


def test_connection_caps_refused_acquire_counts_nothing_and_release_forgets_empty_identities():
    caps = ConnectionCaps(total_cap=None, identity_cap=1)
    assert caps.acquire(7) and not caps.acquire(7)
    assert caps.total == 1
    caps.release(7)
    assert caps.total == 0 and caps.held(7) == 0 and caps.acquire(7)


def test_connection_caps_ignore_clients_without_identity_per_identity():
    caps = ConnectionCaps(total_cap=None, identity_cap=1)
    assert all(caps.acquire(None) for _ in range(5)) and caps.total == 5


def test_connection_caps_refuse_an_unhashable_identity_only_when_capped_per_identity():
    assert ConnectionCaps(total_cap=5, identity_cap=None).acquire({"user": "ann"})
    with pytest.raises(TypeError):
        ConnectionCaps(total_cap=None, identity_cap=5).acquire({"user": "ann"})
