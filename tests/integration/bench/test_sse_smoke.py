"""The SSE vs WebSocket section of the benchmark still runs and yields its figures (never
a speed: the figures themselves live in bench/BENCHMARKS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[3]
FIGURES = ("cpu_us_per_delivery", "p50_ms", "p99_ms", "rss_kib_per_connection")

pytestmark = pytest.mark.timeout(180)


def test_the_sse_section_is_part_of_every_bench_run():
    assert "sse" in [section.name for section in SECTIONS]


def test_the_sse_bench_yields_every_figure_for_both_transports(tmp_path: Path) -> None:
    out = tmp_path / "sse.json"
    done = subprocess.run([sys.executable, "-m", "bench.sse_vs_ws", "--quick", "--json", str(out)],
                          cwd=ROOT, check=True, timeout=150, capture_output=True, text=True)
    figures = json.loads(out.read_text())
    for variant in ("websocket", "sse"):
        (run,) = figures["results"][variant]
        for key in FIGURES:
            assert run.get(key) is not None, f"{variant}: no {key}"
        # Every delivery was counted, so the figures are over the whole workload.
        assert run["deliveries"] == figures["broadcasts"] * figures["fanout_clients"]
        assert run["connections"] == figures["idle_connections"]
    assert "| server RSS per idle connection (KiB) |" in done.stdout
