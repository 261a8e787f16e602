"""The report's pictures: drawn from a run's raw figures, stable from one drawing to the next."""

from __future__ import annotations

from pathlib import Path

from bench.plots import line_chart, plot_results

FANOUT = {"cpu_us_per_delivery": 4.3, "p50_ms": 5.1, "p99_ms": 7.9}
RESULTS = {
    "W1": {"wsns": [FANOUT, {**FANOUT, "cpu_us_per_delivery": 4.5}], "raw": [FANOUT, FANOUT]},
    "history": {"off": [{"cpu_us_per_delivery": 6.0, "local_p50_ms": 1.0}],
                "on": [{"cpu_us_per_delivery": 7.2, "local_p50_ms": 2.5}]},
}


def test_plots_of_the_workloads_that_ran_are_written_as_svg(tmp_path: Path) -> None:
    written = plot_results(RESULTS, tmp_path / "plots")
    titles = {"cpu-per-delivery.svg": "Server CPU per delivery", "latency.svg": "Paced broadcast latency",
              "cost-of-guarantees.svg": "Cost of each guarantee"}
    assert [p.name for p in written] == list(titles)
    for path in written:
        text = path.read_text()  # text stays text (svg.fonttype none): small, and readable here
        assert "<svg" in text and titles[path.name] in text


def test_the_same_figures_draw_the_same_bytes_with_no_date(tmp_path: Path) -> None:
    first = plot_results(RESULTS, tmp_path / "a")
    second = plot_results(RESULTS, tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
        assert b"<dc:date>" not in a.read_bytes()


def test_a_line_chart_leaves_a_gap_for_a_missing_point(tmp_path: Path) -> None:
    path = line_chart(tmp_path / "curve.svg", "RSS per connection", [1_000, 5_000, 19_000],
                      {"sanic-wsns": [20.1, None, 19.4]}, "connections", "KiB", logx=True)
    assert "<svg" in path.read_text()
