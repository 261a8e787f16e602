"""The deadlines behind the expiry sweep (expiry.py), without a loop."""

from hypothesis import given
from hypothesis import strategies as st

from sanic_wsns.expiry import Deadlines


def test_due_takes_the_keys_whose_deadline_came_in_order_and_forgets_them():
    deadlines = Deadlines()
    deadlines.set("b", 2.0)
    deadlines.set("a", 1.0)
    deadlines.set("c", 3.0)
    assert deadlines.due(2.0) == ["a", "b"] and len(deadlines) == 1
    assert deadlines.next_at() == 3.0


def test_a_moved_deadline_replaces_the_old_one_and_a_discarded_key_never_comes_due():
    deadlines = Deadlines()
    deadlines.set("refreshed", 1.0)
    deadlines.set("refreshed", 10.0)
    deadlines.set("gone", 1.0)
    deadlines.discard("gone")
    assert deadlines.due(5.0) == [] and deadlines.next_at() == 10.0


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 100)), max_size=500))
def test_the_heap_stays_bounded_by_the_live_keys_whatever_the_churn(moves):
    deadlines = Deadlines()
    for key, at in moves:
        deadlines.set(key, at)
        assert len(deadlines._heap) <= 2 * len(deadlines) + 65
    assert sorted(deadlines.due(100.0), key=str) == sorted({k for k, _ in moves}, key=str)
