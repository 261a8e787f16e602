"""Fixtures and helpers for the browser client's tests (test_client*.py).

``client_server`` is one ``e2e/apps/client_app.py`` process shared by a module; tests that
kill or freeze their server start their own with ``own_client_server``. ``ClientPage``
drives the app's page (``window.track`` opens a namespace and logs what it says) and the
app's scripted v1.1 server (``plan``, ``push``, ``drop``; frames built by ``welcome`` and
``said``).
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support.processes import ServerProcess

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


def welcome(path: str, offset: int | None = None, epoch: str = "e1",
            recovered: bool | None = None) -> dict[str, Any]:
    """A ``welcome`` frame; with ``offset``, a history namespace's (v1.1 ``position``)."""
    data: dict[str, Any] = {
        "client_id": f"c-{path}", "path": path, "params": {}, "public": None,
        "limits": {"max_frame_size": 65536, "rate_limit": 50, "rate_burst": 100},
        "heartbeat_interval": 20.0, "protocol": 1,
    }
    if offset is not None:
        data["position"] = {"offset": offset, "epoch": epoch}
    if recovered is not None:
        data["recovered"] = recovered
    return {"type": "welcome", "data": data}


def said(offset: int) -> dict[str, Any]:
    """A broadcast the page logs (``conns[n].log.frames``): its data is its offset."""
    return {"type": "said", "data": offset, "offset": offset}


def client_argv(*extra: str) -> list[str]:
    return [sys.executable, APP, "--port", "{port}", *extra]


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

    def wait_log(self, name: str, key: str, count: int, timeout: float = 5_000) -> list[Any]:
        """Wait until ``log[key]`` of ``name`` holds ``count`` entries at least; return it."""
        self.page.wait_for_function("([n, k, c]) => conns[n].log[k].length >= c", arg=[name, key, count],
                                    timeout=timeout)
        return self.log(name)[key]

    def request(self, name: str, type: str, data: Any = None, **options: Any) -> dict[str, Any]:
        """``ns.request`` settled as ``{ok, value}`` or ``{ok: false, code, message, ...}``."""
        return self.js("([n, t, d, o]) => outcome(conns[n].ns.request(t, d, o))",
                       [name, type, data, options])

    def attempts(self, path: str) -> list[float]:
        """Server-side times (monotonic seconds) of the upgrades seen for ``path``."""
        return self._call("GET", "/attempts", path)["times"]

    def queries(self, path: str) -> list[dict[str, str]]:
        """The query string of each upgrade seen for ``path``, as a dict."""
        return self._call("GET", "/attempts", path)["queries"]

    def plan(self, path: str, *upgrades: list[dict[str, Any]]) -> None:
        """Scripted server: the frames each of the next upgrades of ``path`` receives."""
        self._call("POST", "/v11/plan", path, list(upgrades))

    def push(self, path: str, *frames: dict[str, Any]) -> None:
        """Scripted server: send ``frames`` to every open socket of ``path`` (one at least)."""
        assert self._call("POST", "/v11/send", path, list(frames))["sockets"] > 0, f"no socket on {path}"

    def drop(self, path: str) -> None:
        """Scripted server: close the sockets of ``path`` with 1012 (the client reconnects)."""
        assert self._call("POST", "/v11/drop", path)["sockets"] > 0, f"no socket on {path}"

    def _call(self, method: str, route: str, path: str, body: Any = None) -> Any:
        url = f"{self.server.url}{route}?{urllib.parse.urlencode({'path': path})}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)


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
