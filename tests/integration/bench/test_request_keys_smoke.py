"""The request-key benchmark still runs, at tiny sizes: both shapes yield keyed and unkeyed
figures side by side (server CPU and Redis commands per request) and its section renders.
Never speed: the figures live in bench/BENCHMARKS.md."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench.request_keys import SHAPES, VARIANTS, render, run_request_keys
from bench.sections import SECTIONS
from bench.servers import start_redis

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.timeout(120),
]
FIGURES = ("cpu_us_per_request", "redis_commands_per_request", "redis_reads_per_request",
           "redis_cpu_us_per_request", "requests_per_s")


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict:
    with ExitStack() as stack:
        return run_request_keys(True, start_redis(stack, Path(tmp_path_factory.mktemp("logs"))))


def test_every_shape_has_keyed_and_unkeyed_figures(figures: dict) -> None:
    for shape in SHAPES:
        for variant in VARIANTS:
            (cell,) = figures["runs"][shape.name][variant]
            for key in FIGURES:
                assert cell.get(key) is not None, (shape.name, variant, key)
            assert cell["requests"] > 0


def test_a_keyed_request_is_claimed_and_its_answer_kept_in_redis(figures: dict) -> None:
    for shape in SHAPES:
        (keyed,) = figures["runs"][shape.name]["keyed"]
        assert keyed["redis_commands"].get("set", 0) == 2 * keyed["requests"]  # a claim and an answer each
        (unkeyed,) = figures["runs"][shape.name]["unkeyed"]
        assert "set" not in unkeyed["redis_commands"]


def test_the_section_renders_and_is_part_of_the_run(figures: dict) -> None:
    text = "\n".join(render(figures))
    assert "## Cost of request keys (issue 25)" in text
    assert "keyed ÷ unkeyed" in text and "Redis round trips" in text
    assert "request_keys" in [section.name for section in SECTIONS]
