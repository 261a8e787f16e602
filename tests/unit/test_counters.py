"""Per-namespace counters and their instance totals."""

from sanic_wsns.counters import Counters


def test_drops_are_counted_by_reason():
    counters = Counters()
    counters.drop("slow_consumer")
    counters.drop("slow_consumer")
    counters.drop("rate_limited")
    assert counters.as_dict() == {"messages_in": 0, "messages_out": 0,
                                  "dropped": {"slow_consumer": 2, "rate_limited": 1}}


def test_merge_adds_every_count_and_leaves_the_other_alone():
    total, one = Counters(), Counters()
    total.messages_in, total.messages_out = 1, 2
    total.drop("rate_limited")
    one.messages_in, one.messages_out = 10, 20
    one.drop("rate_limited")
    one.drop("handler_error")
    total.merge(one)
    assert total.as_dict() == {"messages_in": 11, "messages_out": 22,
                               "dropped": {"rate_limited": 2, "handler_error": 1}}
    assert one.as_dict()["dropped"] == {"rate_limited": 1, "handler_error": 1}


def test_as_dict_is_a_copy():
    counters = Counters()
    counters.as_dict()["dropped"]["x"] = 1
    assert counters.dropped == {}
