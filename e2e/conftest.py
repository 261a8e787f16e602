"""Shared E2E set-up: Debian's Chromium for pytest-playwright, screenshots of failures, and
factories of real server processes (``tests.support.processes``).

Run as its own pytest invocation (``python -m pytest e2e``): the sync Playwright API and
pytest-asyncio's loops do not mix in one process.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator

import pytest

from e2e.bubblemap_fixtures import admin_api, browsers, deployment, healthy_deployment  # noqa: F401  (fixtures, by name)
from e2e.client_fixtures import client, client_server, own_client_server  # noqa: F401  (fixtures, by name)
from tests.support.processes import ARTIFACTS, ServerProcess, spawner


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright cannot download its own browser on these machines: use Debian's.
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        ],
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, save a screenshot of every open page under e2e/artifacts/ (before the
    fixtures' teardown closes them)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or report.when not in ("setup", "call"):
        return
    browser = getattr(item, "funcargs", {}).get("browser")
    if browser is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", item.nodeid)[-150:]
    for c, context in enumerate(browser.contexts):
        for p, page in enumerate(context.pages):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}-{c}-{p}.png"), timeout=5000)
            except Exception as exc:  # a crashed page must not hide the real failure
                print(f"screenshot of {page.url} failed: {exc}", file=sys.stderr)


@pytest.fixture
def spawn_server() -> Iterator[Callable[..., ServerProcess]]:
    """A factory for ``ServerProcess`` (not started); every one made is killed afterwards."""
    with spawner() as make:
        yield make


@pytest.fixture(scope="module")
def spawn_module_server() -> Iterator[Callable[..., ServerProcess]]:
    """Like ``spawn_server``, for servers shared by a whole test module."""
    with spawner() as make:
        yield make
