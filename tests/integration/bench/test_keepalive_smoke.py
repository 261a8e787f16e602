"""The keepalive section of the benchmark still runs and yields its figures (never a
speed: the figures themselves live in bench/BENCHMARKS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.timeout(180)


def test_the_keepalive_section_is_part_of_every_bench_run():
    assert "keepalive" in [section.name for section in SECTIONS]


def test_the_keepalive_bench_yields_its_figure_off_and_on(tmp_path: Path) -> None:
    out = tmp_path / "keepalive.json"
    done = subprocess.run([sys.executable, "-m", "bench.keepalive_cost", "--connections", "20",
                           "--interval", "0.5", "--window", "1", "--runs", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert len(figures["results"]["on"]) == len(figures["results"]["off"]) == 1
    assert len(figures["ms_per_second_per_10k"]) == 1
    assert "keepalive CPU per second per 10k idle connections" in done.stdout
