"""The compression section of the benchmark still runs and yields its figures (never a
speed: the figures themselves live in bench/BENCHMARKS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[3]
FIGURES = ("event_bytes", "snapshot_bytes", "cpu_us_per_delivery", "rss_kib_per_connection")

pytestmark = pytest.mark.timeout(180)


def test_the_compression_section_is_part_of_every_bench_run():
    assert "compression" in [section.name for section in SECTIONS]


def test_the_compression_bench_yields_every_figure_off_and_on(tmp_path: Path) -> None:
    out = tmp_path / "compression.json"
    done = subprocess.run([sys.executable, "-m", "bench.compression", "--quick", "--json", str(out)],
                          cwd=ROOT, check=True, timeout=150, capture_output=True, text=True)
    figures = json.loads(out.read_text())
    for variant in ("off", "on"):
        (run,) = figures["results"][variant]
        for key in FIGURES:
            assert run.get(key) is not None, f"{variant}: no {key}"
    (on,) = figures["results"]["on"]
    assert on["agreed"] and on["event_compressed"] and on["snapshot_compressed"]
    (off,) = figures["results"]["off"]
    assert not (off["agreed"] or off["event_compressed"] or off["snapshot_compressed"])
    assert figures["compress_us_per_frame"] > 0
    assert "bytes on the wire per delivery, 1 KB JSON event" in done.stdout
