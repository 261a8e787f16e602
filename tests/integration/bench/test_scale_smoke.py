"""The scale benchmark still runs, at tiny sizes: every curve and the moonshot yield their
figures, lose nothing, draw their plots, and leave no process behind. Never speed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.scale import run_scale
from bench.scale_report import scale_section, write_plots

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.timeout(300),
]
FIGURES = ("rss_kib_per_connection", "opens_per_s", "cpu_us_per_open", "cpu_us_per_delivery",
           "last_delivery_ms", "servers_rss_mib", "writes_per_delivery")


def children() -> list[int]:
    """Processes whose parent is this one (``/proc/<pid>/stat`` field 4)."""
    mine = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2:].split()[1]) == os.getpid():
                mine.append(int(entry.name))
    return mine


@pytest.fixture(scope="module")
def results() -> dict:
    return run_scale(quick=True, moonshot=True)


def test_every_step_yields_its_figures_and_loses_nothing(results: dict) -> None:
    curves = {step["curve"] for step in results["steps"]}
    assert curves == {"connections", "instances", "moonshot"}
    for step in results["steps"]:
        assert "error" not in step, step
        assert step["connections_held"] == step["connections"], step
        assert step["lost"] == 0, step
        for key in FIGURES:
            assert step[key] is not None, (step["label"], key)
        if step["instances"] > 1:
            assert step["redis_cpu_us_per_delivery"] is not None
            assert len(step["instance_cpu_us_per_delivery"]) == step["instances"]


def test_the_moonshot_holds_its_connections_through_the_idle_stage(results: dict) -> None:
    moonshot, _ = [s for s in results["steps"] if s["curve"] == "moonshot"]
    assert moonshot["still_open_after_idle"] == moonshot["connections"]
    assert moonshot["keepalive_cpu_ms_per_s_per_10k"] is not None


def test_the_moonshot_runs_again_with_one_load_generator_more_and_reports_theirs(results: dict) -> None:
    moonshot, more = [s for s in results["steps"] if s["curve"] == "moonshot"]
    assert more["loadgens"] == moonshot["loadgens"] + 1
    assert more["connections"] == moonshot["connections"]
    for step in (moonshot, more):
        assert step["loadgens_cpu_us_per_delivery"] is not None, step
        assert step["busiest_loadgen_cpu_share"] is not None, step
    assert "Load generators: with one more" in scale_section(results)


def test_the_report_shows_every_curve_and_its_plots_are_drawn(results: dict, tmp_path: Path) -> None:
    section = scale_section(results)
    for heading in ("### One instance", "### Several instances", "### Moonshot"):
        assert heading in section
    assert "`write()` calls per delivery" in section  # where one broadcast at a time goes
    written = write_plots(results, tmp_path)
    assert sorted(p.name for p in written) == ["scale-connections.svg", "scale-instances.svg"]
    assert all(p.read_text().lstrip().startswith("<?xml") for p in written)


def test_no_process_is_left_behind(results: dict) -> None:
    assert children() == []
