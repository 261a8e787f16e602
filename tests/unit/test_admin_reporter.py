"""The demo admin's per-instance report: the totals an admin watches, and message rates."""

from __future__ import annotations

from demo_app.admin import MAX_REPORTED_PATHS, Reporter


def stats(messages_in: int, messages_out: int, paths: tuple[str, ...] = ("/b", "/a"),
          **broker: object) -> dict:
    return {"instance": "i1", "broker": {"backend": "redis", "connected": True, **broker},
            "totals": {"clients": 3, "namespaces": len(paths), "messages_in": messages_in,
                       "messages_out": messages_out, "connections_refused": {"4403": 2},
                       "dropped": {"rate_limited": 1}},
            "namespaces": {path: {} for path in paths}}


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


def test_a_report_lists_its_namespaces_by_path_so_the_page_counts_each_once():
    """Under two workers a map open on both was counted twice when the page summed counts."""
    report = Reporter(interval=2.0).report(stats(0, 0), now=1.0)
    assert report["namespace_paths"] == ["/a", "/b"]


def test_a_report_with_too_many_namespaces_sends_only_their_count():
    many = tuple(f"/maps/{n}" for n in range(MAX_REPORTED_PATHS + 1))
    report = Reporter(interval=2.0).report(stats(0, 0, paths=many), now=1.0)
    assert report["namespace_paths"] is None
    assert report["namespaces"] == MAX_REPORTED_PATHS + 1
