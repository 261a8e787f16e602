"""Fixtures and helpers for the browser client's tests (test_client*.py).

``client_server`` is one ``e2e/apps/client_app.py`` process shared by a module; tests that
kill or freeze their server start their own with ``own_client_server``. ``ClientPage``
drives the app's page (``window.track`` opens a namespace and logs what it says).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page
from server_process import ServerProcess

APP = "e2e/apps/client_app.py"

#: Timers the page's scripts have pending, so a test can see that none are left.
TIMER_PROBE = """
window.__timers = new Set();
const setTimeout0 = window.setTimeout, clearTimeout0 = window.clearTimeout;
window.setTimeout = function (fn, ms, ...args) {
  const id = setTimeout0(function () { window.__timers.delete(id); fn(...args); }, ms);
  window.__timers.add(id);
  return id;
};
window.clearTimeout = function (id) { window.__timers.delete(id); return clearTimeout0(id); };
"""


def client_argv(*extra: str) -> list[str]:
    return [sys.executable, APP, "--port", "{port}", *extra]


def eventually(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` (server-side state with no event to wait on) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.02)


class ClientPage:
    """The test app's page in a browser, and the server it came from (same origin)."""

    def __init__(self, page: Page, server: ServerProcess):
        self.page = page
        self.server = server

    def load(self) -> ClientPage:
        self.page.goto(self.server.url + "/")
        self.page.wait_for_function("window.track !== undefined", timeout=10_000)
        return self

    def track(self, name: str, path: str, **options: Any) -> str:
        """``connect(path, options)`` in the page, logged under ``name``; its first state."""
        return self.page.evaluate("([n, p, o]) => track(n, p, o)", [name, path, options])

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate ``expression`` (a function of ``arg``) in the page."""
        return self.page.evaluate(expression, arg)

    def state(self, name: str) -> str:
        return self.js("n => conns[n].ns.state", name)

    def log(self, name: str) -> dict[str, Any]:
        return self.js("n => conns[n].log", name)

    def states(self, name: str) -> list[str]:
        return [state for state, _ in self.log(name)["states"]]

    def wait_state(self, name: str, state: str, timeout: float = 5_000) -> None:
        self.page.wait_for_function("([n, s]) => conns[n].ns.state === s", arg=[name, state],
                                    timeout=timeout)

    def request(self, name: str, type: str, data: Any = None, **options: Any) -> dict[str, Any]:
        """``ns.request`` settled as ``{ok, value}`` or ``{ok: false, code, message, ...}``."""
        return self.js("([n, t, d, o]) => outcome(conns[n].ns.request(t, d, o))",
                       [name, type, data, options])

    def attempts(self, path: str) -> list[float]:
        """Server-side times (monotonic seconds) of the upgrades seen for ``path``."""
        url = f"{self.server.url}/attempts?{urllib.parse.urlencode({'path': path})}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["times"]


@pytest.fixture(scope="module")
def client_server(spawn_module_server) -> ServerProcess:
    return spawn_module_server(client_argv(), name="client_app").start()


@pytest.fixture
def client(page: Page, client_server: ServerProcess) -> ClientPage:
    return ClientPage(page, client_server).load()


@pytest.fixture
def own_client_server(spawn_server) -> Iterator[Callable[..., ServerProcess]]:
    """Start a client_app of the test's own (to kill, restart or freeze it)."""
    yield lambda *extra: spawn_server(client_argv(*extra), name="client_app").start()
