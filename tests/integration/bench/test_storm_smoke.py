"""The reconnect-storm section of the benchmark still runs and yields its figures for both
variants: every moved client comes back recovered, with the open rate on some are refused
with 1013 first and still come back (never a speed: the figures live in BENCHMARKS.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.sections import SECTIONS
from bench.storm import VARIANTS, plot, render, run_storm

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.timeout(240),
]
FIGURES = ("all_back_s", "half_back_s", "before_p99_ms", "storm_p99_ms", "survivors_cpu_s")


def test_the_storm_section_is_part_of_every_bench_run() -> None:
    assert "storm" in [section.name for section in SECTIONS]


def test_both_variants_bring_every_moved_client_back_recovered_and_yield_every_figure(tmp_path: Path) -> None:
    figures = run_storm(quick=True)
    results = {r["variant"]: r for r in figures["variants"]}
    assert list(results) == list(VARIANTS)
    for result in results.values():
        assert "error" not in result, result
        assert result["moved"] == figures["sizes"]["connections"] // figures["sizes"]["instances"]
        assert (result["back"], result["resynced"]) == (result["moved"], 0), result
        assert result["workers"] == figures["sizes"]["workers"]  # the clients' processes, merged
        for key in FIGURES:
            assert result[key] is not None, (result["variant"], key)
    assert results["open rate off"]["refused"] == 0
    assert results["open rate on"]["refused"] > 0  # the limit was reached, and honoured
    section = "\n".join(render(figures))
    assert "| figure | " + " | ".join(VARIANTS) + " |" in section
    (svg,) = plot(figures, tmp_path)
    assert svg.read_text().lstrip().startswith("<?xml")


def test_a_storm_too_big_for_the_open_files_limit_is_fitted_to_it_in_whole_rooms() -> None:
    from dataclasses import replace

    from bench.storm import CLIENTS_PER_ROOM, FULL, OPEN_FILES_SPARE, fit_to_open_files

    assert fit_to_open_files(FULL, 1_000_000) == FULL
    fitted = fit_to_open_files(FULL, 20_000)
    survivors = FULL.instances - 1
    assert fitted.connections < FULL.connections
    assert -(-fitted.connections // survivors) <= 20_000 - OPEN_FILES_SPARE  # what a survivor holds
    assert fitted.connections % (CLIENTS_PER_ROOM * FULL.instances) == 0
    assert fitted.connections // fitted.namespaces == CLIENTS_PER_ROOM
    assert fitted == replace(FULL, connections=fitted.connections, namespaces=fitted.namespaces)
