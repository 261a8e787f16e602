"""The demo admin's per-instance report: the totals an admin watches, and message rates."""

from __future__ import annotations

from demo_app.admin import Reporter


def stats(messages_in: int, messages_out: int, **broker: object) -> dict:
    return {"instance": "i1", "broker": {"backend": "redis", "connected": True, **broker},
            "totals": {"clients": 3, "namespaces": 2, "messages_in": messages_in,
                       "messages_out": messages_out, "connections_refused": {"4403": 2},
                       "dropped": {"rate_limited": 1}}}


def test_the_first_report_has_no_rate_and_the_next_one_rates_the_difference():
    reporter = Reporter(interval=2.0)
    first = reporter.report(stats(10, 100), now=50.0)
    assert (first["messages_in_per_s"], first["messages_out_per_s"]) == (0.0, 0.0)
    second = reporter.report(stats(14, 130), now=52.0)
    assert (second["messages_in_per_s"], second["messages_out_per_s"]) == (2.0, 15.0)


def test_a_report_names_the_broker_backend_and_sums_the_errors():
    report = Reporter(interval=2.0).report(stats(0, 0, publish_failed=4, last_error="boom"), now=1.0)
    assert report["broker"] == {"backend": "redis", "mode": None, "connected": True, "last_error": "boom"}
    assert report["errors"] == {"publish_failed": 4, "refused": 2, "dropped": 1}
    assert (report["connections"], report["namespaces"], report["stale_after"]) == (3, 2, 6.0)
