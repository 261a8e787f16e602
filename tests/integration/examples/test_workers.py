"""Several Sanic workers on the memory:// broker would split every namespace per worker:
refused at start, through the real CLI, with one line that names the fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.ports import free_port


@pytest.mark.parametrize("flags", [
    ("--workers", "2"),
    pytest.param(("--fast",), marks=pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                                       reason="--fast runs one worker per core")),
])
def test_several_workers_on_the_memory_broker_are_refused_with_the_fix_named(flags):
    env = {k: v for k, v in os.environ.items() if k != "SANIC_WSNS_BROKER"}
    run = subprocess.run(
        [sys.executable, "-m", "sanic", "examples.quickstart:app", "--port", str(free_port()),
         "--no-motd", *flags], env=env, capture_output=True, text=True, timeout=90)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert "cannot share the memory:// broker" in last and "SANIC_WSNS_BROKER=redis://" in last
