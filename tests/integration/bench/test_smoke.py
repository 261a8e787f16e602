"""The benchmark harness still runs: every workload against every target, at tiny sizes.

It asserts that the figures exist and that the harness's correctness checks hold (nothing
lost, nothing leaked, no foreign broker traffic on W5's instance B) — never speed: speed
targets live in bench/BENCHMARKS.md only.
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

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.timeout(300),  # the module's one quick run is billed to whichever test comes first
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--out", str(out / "BENCHMARKS.md"),
                    "--json", str(out / "results.json")], cwd=ROOT, check=True, timeout=240)
    return json.loads((out / "results.json").read_text())["results"], (out / "BENCHMARKS.md").read_text()


def cells(results: dict, workload: str):
    for target in TARGETS:
        (figures,) = results[workload][target]
        assert "error" not in figures, f"{workload} {target}: {figures['error']}"
        if "skipped" in figures:  # only sanic-wsns's redis broker may be missing from a checkout
            assert target == "wsns" and workload in ("W2", "W5"), figures
            continue
        yield target, figures


@pytest.mark.parametrize("workload", list(FIGURES))
def test_bench_smoke_every_target_yields_the_figures(quick_run: tuple[dict, str], workload: str) -> None:
    results, _report = quick_run
    for target, figures in cells(results, workload):
        for key in FIGURES[workload]:
            assert figures.get(key) is not None, f"{workload} {target}: no {key}"
        assert figures.get("lost", 0) == 0, f"{workload} {target} lost deliveries"


def test_bench_smoke_lifecycle_checks_hold(quick_run: tuple[dict, str]) -> None:
    results, _report = quick_run
    for target, figures in cells(results, "W4"):
        assert figures["leaked_namespaces"] == 0 and figures["leaked_clients"] == 0, target
    for target, figures in cells(results, "W5"):
        if target == "wsns":
            assert figures["b_broker_foreign"] == 0
            assert figures["b_broker_received"] == figures["b_expected"]


def test_bench_smoke_writes_the_report(quick_run: tuple[dict, str]) -> None:
    _results, report = quick_run
    assert "## Issue 7 targets" in report
    for title in ("W1 fan-out", "W2 cross-instance", "W3 idle", "W4 churn", "W5 many namespaces"):
        assert title in report
