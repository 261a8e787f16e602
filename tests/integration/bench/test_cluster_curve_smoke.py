"""The Redis Cluster section of the benchmark still runs and yields its figures for both
backends (never a speed: the curve itself lives in bench/BENCHMARKS.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.cluster_curve import BACKENDS, plot, render, run_curve
from bench.sections import SECTIONS

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.timeout(240),
]
FIGURES = ("achieved_rate", "p50_ms", "p99_ms", "servers_cpu_s", "redis_cpu_s", "client_cpu_s")


def test_the_cluster_section_is_part_of_every_bench_run() -> None:
    assert "cluster" in [section.name for section in SECTIONS]


def test_both_backends_yield_every_figure_at_every_rate_and_lose_nothing(tmp_path: Path) -> None:
    figures = run_curve(quick=True)
    assert [r["backend"] for r in figures["backends"]] == list(BACKENDS)
    for result in figures["backends"]:
        assert "error" not in result, result
        assert result["steps"], result
        for step in result["steps"]:
            assert step["deliveries"] == step["broadcasts"] * figures["sizes"]["receivers"], step
            for key in FIGURES:
                assert step[key] is not None, (result["backend"], step["rate"], key)
        assert set(result["crossing"]) == {"below", "above"}
    section = "\n".join(render(figures))
    assert all(f"| {name} |" in section for name in BACKENDS)
    (svg,) = plot(figures, tmp_path)
    assert svg.read_text().lstrip().startswith("<?xml")
