"""Pages a newcomer reads first say what works: README's set-up runs on a fresh Debian
(PEP 668), the getting-started page shows the example's code itself (GitHub renders the
raw file, where an include marker is only a marker), and the API reference lists every
public name."""

from __future__ import annotations

import re
from pathlib import Path

import sanic_wsns

ROOT = Path(__file__).resolve().parents[2]


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_readme_set_up_is_two_commands_and_installs_into_a_virtual_environment():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    [block] = fenced(section, "bash")
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && python -m demo_app",
        "bash .ci/run",
    ]


def test_the_first_pip_install_of_readme_and_getting_started_runs_in_a_virtual_environment():
    for page in ("README.md", "docs/getting-started.md"):
        code = "\n".join(line.split("#", 1)[0] for block in fenced((ROOT / page).read_text(), "bash")
                         for line in block.splitlines())
        assert code.rfind("python3 -m venv .venv", 0, code.index("pip install")) != -1, page


def test_getting_started_shows_the_quick_start_files_verbatim_without_include_markers():
    page = (ROOT / "docs/getting-started.md").read_text()
    assert "--8<--" not in page
    assert (ROOT / "examples/quickstart.py").read_text() in fenced(page, "python")
    assert (ROOT / "examples/quickstart.html").read_text() in fenced(page, "html")


def test_the_api_reference_lists_every_public_name_and_client_recovered():
    page = (ROOT / "docs/api.md").read_text()
    documented = set(re.findall(r"^::: sanic_wsns\.(\w+)$", page, flags=re.MULTILINE))
    assert set(sanic_wsns.__all__) - documented == set()
    assert "`client.recovered`" in page
