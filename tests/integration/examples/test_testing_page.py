"""docs/testing.md's complete test file is examples/test_auction.py, and it passes as
written, in a pytest of its own (the way a user runs it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "test_auction.py"


def test_the_testing_page_shows_examples_test_auction_py_verbatim():
    page = (ROOT / "docs" / "testing.md").read_text()
    section = page.split("\n## A complete test file\n", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"^```python\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)
    assert code == EXAMPLE.read_text()


def test_the_example_test_file_passes_as_written():
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])  # this checkout first
    run = subprocess.run([sys.executable, "-m", "pytest", str(EXAMPLE), "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": path})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(r"\b7 passed\b", run.stdout), run.stdout[-1000:]
