"""The README's Quick start is examples/quickstart.py, so the code a newcomer copies is the
code CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def quick_start_blocks(lang: str) -> list[str]:
    """The ``lang`` code blocks of README.md's "Quick start" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"^```{lang}\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)


def test_the_readme_quick_start_is_examples_quickstart_py_verbatim():
    [code] = quick_start_blocks("python")
    assert code == (ROOT / "examples" / "quickstart.py").read_text()


def test_the_readme_quick_start_page_script_is_the_one_quickstart_html_runs():
    [script] = quick_start_blocks("js")
    page = (ROOT / "examples" / "quickstart.html").read_text()
    assert script in page
