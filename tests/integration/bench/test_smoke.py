"""The benchmark harness still runs: every workload against every target, at tiny sizes.

It asserts that the figures exist and that the harness's correctness checks hold (nothing
lost, nothing leaked, no foreign broker traffic on W5's instance B, every client recovered
after the restart, one presence state per join) and that the report and its plots are
written — never speed: speed targets live in bench/BENCHMARKS.md only. The run writes into
a temporary folder, so the committed report and plots are never touched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TARGETS = ("wsns", "raw", "socketio")
FIGURES = {
    "W1": ("cpu_us_per_delivery", "deliveries_per_s", "p50_ms", "p99_ms"),
    "W2": ("cpu_us_per_delivery", "deliveries_per_s", "remote_p50_ms", "remote_p99_ms"),
    "W3": ("rss_kib_per_connection", "opens_per_s"),
    "W4": ("cycles_per_s", "leaked_namespaces"),
    "W5": ("b_broker_received", "b_broker_foreign", "b_cpu_ms"),
}
#: The cost workloads run sanic-wsns twice: the guarantee off, then on.
COST_FIGURES = {
    "history": ("cpu_us_per_delivery", "redis_cpu_us_per_delivery", "local_p50_ms", "local_p99_ms"),
    "metrics": ("cpu_us_per_delivery", "p50_ms", "p99_ms"),
    "presence": ("cpu_us_per_join", "redis_ops_per_s", "redis_ops_per_join", "presence_frames_per_join"),
    "recovery": ("seconds_to_all_back", "recovered", "refetches", "redis_ops", "redis_ops_per_client"),
}
#: Raw figures, the report's text, and the folder holding the report and its plots.
QuickRun = tuple[dict, str, Path]
PLOTS = ("cpu-per-delivery.svg", "latency.svg", "cost-of-guarantees.svg")

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.timeout(300),  # the module's one quick run is billed to whichever test comes first
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    out = tmp_path_factory.mktemp("bench")
    subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--out", str(out / "BENCHMARKS.md"),
                    "--json", str(out / "results.json")], cwd=ROOT, check=True, timeout=240)
    return (json.loads((out / "results.json").read_text())["results"], (out / "BENCHMARKS.md").read_text(),
            out)


def cells(results: dict, workload: str):
    for target in TARGETS:
        (figures,) = results[workload][target]
        assert "error" not in figures, f"{workload} {target}: {figures['error']}"
        if "skipped" in figures:  # only sanic-wsns's redis broker may be missing from a checkout
            assert target == "wsns" and workload in ("W2", "W5"), figures
            continue
        yield target, figures


@pytest.mark.parametrize("workload", list(FIGURES))
def test_bench_smoke_every_target_yields_the_figures(quick_run: QuickRun, workload: str) -> None:
    results, _report, _out = quick_run
    for target, figures in cells(results, workload):
        for key in FIGURES[workload]:
            assert figures.get(key) is not None, f"{workload} {target}: no {key}"
        assert figures.get("lost", 0) == 0, f"{workload} {target} lost deliveries"


def test_bench_smoke_lifecycle_checks_hold(quick_run: QuickRun) -> None:
    results, _report, _out = quick_run
    for target, figures in cells(results, "W4"):
        assert figures["leaked_namespaces"] == 0 and figures["leaked_clients"] == 0, target
    for target, figures in cells(results, "W5"):
        if target == "wsns":
            assert figures["b_broker_foreign"] == 0
            assert figures["b_broker_received"] == figures["b_expected"]


def cost_cells(results: dict, workload: str) -> dict[str, dict]:
    variants = {}
    for variant in results[workload]:
        (figures,) = results[workload][variant]
        assert "error" not in figures and "skipped" not in figures, f"{workload} {variant}: {figures}"
        variants[variant] = figures
    return variants


@pytest.mark.parametrize("workload", list(COST_FIGURES))
def test_bench_smoke_every_guarantee_is_measured_off_and_on(quick_run: QuickRun, workload: str) -> None:
    results, _report, _out = quick_run
    for variant, figures in cost_cells(results, workload).items():
        for key in COST_FIGURES[workload]:
            assert figures.get(key) is not None, f"{workload} {variant}: no {key}"
        assert figures.get("lost", 0) == 0, f"{workload} {variant} lost deliveries"
        assert figures.get("leaked_namespaces", 0) == 0 and figures.get("leaked_clients", 0) == 0, \
            f"{workload} {variant} left namespaces or clients behind"


def test_bench_smoke_presence_churn_counts_one_state_per_join_and_none_when_off(quick_run: QuickRun) -> None:
    results, _report, _out = quick_run
    cells = cost_cells(results, "presence")
    assert cells["on"]["state_frames"] == cells["on"]["joins"]
    assert cells["on"]["diff_frames"] > 0
    assert cells["off"]["presence_frames_per_join"] == 0


def test_bench_smoke_recovery_brings_every_client_back_in_offset_order(quick_run: QuickRun) -> None:
    results, _report, _out = quick_run
    cells = cost_cells(results, "recovery")
    on, off = cells["on"], cells["off"]
    assert on["recovered"] == on["clients"] == on["clients_done"] and on["refetches"] == 0
    assert on["out_of_order"] == 0 and on["missed_frames_per_client"] == on["missed"]
    assert off["refetches"] == off["clients"] == off["clients_done"]


def test_bench_smoke_writes_the_report_and_its_plots(quick_run: QuickRun) -> None:
    _results, report, out = quick_run
    assert "## Issue 7 targets" in report and "## Cost of each guarantee" in report
    for title in ("W1 fan-out", "W2 cross-instance", "W3 idle", "W4 churn", "W5 many namespaces",
                  "Cost of history", "Cost of metrics", "Cost of presence", "Recovery after an instance",
                  "## Scale", "One instance: more connections"):
        assert title in report
    assert (out / "plots" / "scale-connections.svg").exists()
    for name in PLOTS:
        svg = out / "plots" / name
        assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
        assert f"](plots/{name})" in report


def test_bench_smoke_the_moonshot_and_idle_memory_sections_yield_their_figures(quick_run: QuickRun) -> None:
    _results, report, out = quick_run
    sections = json.loads((out / "results.json").read_text())["sections"]
    moonshot = sections["moonshot"]["steps"]
    assert len(moonshot) == 2 and all("error" not in step for step in moonshot), moonshot
    assert moonshot[1]["loadgens"] == moonshot[0]["loadgens"] + 1
    for step in moonshot:
        assert step["lost"] == 0 and step["last_delivery_ms"] is not None
        assert step["loadgens_cpu_us_per_delivery"] is not None
    rss = sections["memory"]["rss_kib"]
    assert set(rss) == {"websockets", "sanic", "wsns"}
    assert all(len(runs) == 1 and runs[0] > 0 for runs in rss.values()), rss
    assert "## 100k broadcast, load generators checked (issue 28 goal 4)" in report
    assert "## Idle memory against a bare `websockets` server (issue 28 goal 1)" in report


def run_into(quick_run: QuickRun, tmp_path: Path, *what: str) -> tuple[dict, dict, str]:
    """``bench.run --quick WHAT --into`` a copy of the quick run's raw figures: the figures
    after, before, and the report rewritten from them."""
    _results, _report, out = quick_run
    raw = tmp_path / "results.json"
    raw.write_text((out / "results.json").read_text())
    subprocess.run([sys.executable, "-m", "bench.run", "--quick", *what, "--into", str(raw),
                    "--out", str(tmp_path / "BENCHMARKS.md")], cwd=ROOT, check=True, timeout=120)
    before = json.loads((out / "results.json").read_text())
    return json.loads(raw.read_text()), before, (tmp_path / "BENCHMARKS.md").read_text()


def test_bench_smoke_a_section_added_to_a_run_later_says_when_and_keeps_the_run(
        quick_run: QuickRun, tmp_path: Path) -> None:
    saved, before, report = run_into(quick_run, tmp_path, "--sections", "memory")
    assert saved["results"] == before["results"] and saved["commit"] == before["commit"]
    assert saved["added"]["memory"]["commit"] and saved["sections"]["memory"]["rss_kib"]["wsns"]
    assert "- Section `memory` ran after the run, on its own" in report
    assert "## Idle memory against a bare `websockets` server" in report


@pytest.mark.skipif(shutil.which("perf") is None,
                    reason="needs perf (Debian: linux-perf; .ci/run installs it)")
def test_bench_smoke_the_kernel_section_sorts_the_servers_samples(quick_run: QuickRun) -> None:
    _results, report, out = quick_run
    kernel = json.loads((out / "results.json").read_text())["sections"]["kernel"]
    assert "error" not in kernel and "skipped" not in kernel, kernel
    assert kernel["samples"] > 0 and kernel["deliveries"] > 0 and kernel["lost"] == 0
    assert abs(sum(kernel["shares"].values()) - 1.0) < 1e-9
    assert any(name.startswith("send path") for name in kernel["shares"]), kernel["shares"]
    assert "## Where one broadcast at a time goes, below Python (issue 28 goal 3)" in report


def test_bench_smoke_history_is_measured_with_the_handler_awaiting_too(quick_run: QuickRun) -> None:
    results, report, _out = quick_run
    assert list(results["history"]) == ["off", "on", "awaited"]
    assert "| figure | history off | history on | history awaited |" in report
    assert "the handler awaiting each position ÷ off" in report


def test_bench_smoke_a_workload_run_again_into_a_run_replaces_its_cells_and_says_so(
        quick_run: QuickRun, tmp_path: Path) -> None:
    saved, before, report = run_into(quick_run, tmp_path, "--workloads", "W3", "--targets", "wsns")
    assert saved["results"]["W1"] == before["results"]["W1"]  # the others untouched
    assert list(saved["results"]["W3"]) == ["wsns"] and saved["added"]["W3"]["commit"]
    assert "- Workload `W3` ran after the run, on its own" in report
