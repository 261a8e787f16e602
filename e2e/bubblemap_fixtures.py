"""The bubblemap deployment the end-to-end scenarios run against, built from real parts.

One ``redis-server``, two ``python -m demo_app`` processes sharing one SQLite file, one
secret and that Redis, and an ``nginx`` in front of them (plain round-robin, WebSocket
proxying, the client's ``Host`` passed on). Pages are "pinned" when they open an
instance's own port, and "balanced" when they open nginx's.

``deployment`` is shared by a test module (starting it takes a few seconds); a test that
kills a part uses ``healthy_deployment``, which restarts whatever is down afterwards, on
the same ports, so the next test finds it whole.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.support.demo_api import PASSWORD, DemoApi, credentials
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import ARTIFACTS, ROOT, ServerProcess
from tests.support.redis_servers import RedisServer

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STATIC = ROOT / "demo_app" / "static"
ADMIN = "admin"
#: Upper bound for anything a page must show after a change elsewhere (two shared cores).
SHOWN_MS = 10_000
#: Upper bound for recovering from a fault: the client's backoff and the broker's (<= 5 s).
RECOVERED_MS = 20_000
#: One line per request, written when it ends; a WebSocket's line is written when it closes,
#: so the start (``msec - request_time``) orders them. The user agent names the page.
ACCESS_LOG_FORMAT = '$msec $request_time $status "$upstream_addr" "$request" "$http_user_agent"'


# -- parts --------------------------------------------------------------------------------

class Nginx:
    """nginx as a child process with a generated configuration, on a free port.

    Every file it writes (pid, temp dirs) is under its own directory; its logs are kept in
    e2e/artifacts/ so a failure can be read afterwards. A dead upstream is skipped for each
    request (``max_fails=0``: no "down" period), so a restarted instance takes traffic again
    at once. nginx serves the page's static files itself, as a deployment would: then
    nothing but the page's ``GET /api/1/session`` comes between its HTML and its upgrade, and
    strict round-robin sends that REST call and the upgrade to different instances.
    """

    def __init__(self, upstreams: list[int]):
        self.dir = Path(tempfile.mkdtemp(prefix="wsns-nginx-"))
        port = free_port()
        ARTIFACTS.mkdir(exist_ok=True)
        self.access_log = ARTIFACTS / f"nginx-{port}-access.log"
        (self.dir / "nginx.conf").write_text(self._config(port, upstreams))
        self.process = ServerProcess(
            [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            port=port, ready_path="/nginx-ready", name="nginx")

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def url(self) -> str:
        return self.process.url

    def _config(self, port: int, upstreams: list[int]) -> str:
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
        user = "user root;" if _is_root() else ""
        return f"""
{user}
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {ARTIFACTS}/nginx-{port}-error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {self.dir}/client_body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    types {{ text/html html; text/css css; text/javascript js; image/svg+xml svg; }}
    log_format e2e '{ACCESS_LOG_FORMAT}';
    access_log {self.access_log} e2e;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream bubblemap {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /nginx-ready {{ access_log off; return 200 "ready\\n"; }}
        location /static/ {{ alias {STATIC}/; }}
        location / {{
            proxy_pass http://bubblemap;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_read_timeout 300s;
            proxy_buffering off;
        }}
    }}
}}
"""

    def log_lines(self) -> list[AccessLine]:
        if not self.access_log.exists():
            return []
        return [line for text in self.access_log.read_text().splitlines()
                if (line := AccessLine.parse(text)) is not None]

    def close(self) -> None:
        self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass(frozen=True)
class AccessLine:
    """One request nginx proxied: when it started, where it went, what it was."""

    start: float
    status: int
    upstream: str
    method: str
    path: str
    agent: str

    _PATTERN = re.compile(r'^(\S+) (\S+) (\d+) "([^"]*)" "(\S+) (\S+) [^"]*" "([^"]*)"$')

    @classmethod
    def parse(cls, text: str) -> AccessLine | None:
        match = cls._PATTERN.match(text)
        if match is None:
            return None
        end, duration, status, upstream, method, path, agent = match.groups()
        # After a failed try nginx lists every upstream it tried ("a, b"): the last served it.
        return cls(float(end) - float(duration), int(status), upstream.split(", ")[-1], method,
                   path, agent)


def _is_root() -> bool:
    return os.geteuid() == 0


class Deployment:
    """Redis, two bubblemap instances ("a" and "b") and nginx, all real processes."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wsns-e2e-"))
        self.redis = RedisServer()
        secret = secrets.token_hex(16)
        self.instances = {
            name: ServerProcess(
                [sys.executable, "-m", "demo_app", "--port", "{port}", "--broker", self.redis.url,
                 "--db", str(self.dir / "shared.db"), "--secret", secret, "--admin", ADMIN],
                ready_path="/api/1/session", env={"BUBBLEMAP_ADMIN_PASSWORD": PASSWORD},
                name=f"bubblemap-{name}")
            for name in ("a", "b")
        }
        self.nginx = Nginx([server.port for server in self.instances.values()])

    @property
    def a(self) -> ServerProcess:
        return self.instances["a"]

    @property
    def b(self) -> ServerProcess:
        return self.instances["b"]

    def start(self) -> Deployment:
        self.redis.start()
        for server in self.instances.values():
            server.start()
        self.nginx.process.start()
        return self

    def heal(self) -> None:
        """Start again whatever a test stopped (same ports), and wait until it answers."""
        if not self.redis.running():
            self.redis.start()
        for server in [*self.instances.values(), self.nginx.process]:
            if server.ended():
                server.start()

    def close(self) -> None:
        self.nginx.close()
        for server in self.instances.values():
            server.kill()
        self.redis.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- what the REST API stores --------------------------------------------------------------

@dataclass(frozen=True)
class Bubble:
    """What a user sees of a bubble, comparable between the DOM and the REST API."""

    id: int
    version: int
    text: str
    color: str
    x: float
    y: float

    @classmethod
    def of(cls, data: dict[str, Any]) -> Bubble:
        return cls(int(data["id"]), int(data["version"]), data["text"], data["color"].lower(),
                   float(data["x"]), float(data["y"]))


def stored_bubbles(api: DemoApi, map_id: int) -> dict[int, Bubble]:
    """What ``GET /api/1/maps/<id>`` stores, comparable with what a page draws."""
    return {b["id"]: Bubble.of(b) for b in api.bubbles(map_id)}


def move_round_robin(nginx_url: str, attempt: int) -> None:
    """One or two proxied requests, in turn by ``attempt``: nginx's round-robin turn moves
    on by an odd, then an even, count, so a page load that makes an even number of proxied
    requests cannot keep landing its sockets on the same instance, reload after reload."""
    for _ in range(1 + attempt % 2):
        DemoApi(nginx_url).call("GET", "/api/1/session")


def map_path(map_id: int) -> str:
    return f"/api/1/ws/bubblemap/{map_id}"


# -- pages --------------------------------------------------------------------------------

#: Reads every drawn bubble: id, version, text (empty when the placeholder shows), fill and
#: position (its translate, in board coordinates: pan and zoom are the viewport's transform).
_READ_BUBBLES = """els => els.map(g => {
  const m = /translate\\(([-\\d.e]+)[ ,]+([-\\d.e]+)\\)/.exec(g.getAttribute("transform"));
  const label = g.querySelector(".bubble-text");
  return {id: Number(g.dataset.bubbleId), version: Number(g.dataset.version),
          text: label.classList.contains("placeholder") ? "" : label.textContent,
          color: g.querySelector("circle").getAttribute("fill"), x: Number(m[1]), y: Number(m[2])};
})"""


class MapPage:
    """One browser tab on a map, driven the way a user would (double-click, drag, editor)."""

    def __init__(self, page: Page, base_url: str, map_id: int, label: str):
        self.page = page
        self.base_url = base_url
        self.map_id = map_id
        self.label = label
        #: When the page re-fetched the map over REST: what it does on ``resync``.
        self.refetches: list[float] = []
        refetch_url = f"{base_url}/api/1/maps/{map_id}"
        page.on("request", lambda request: self.refetches.append(time.monotonic())
                if request.url == refetch_url and request.method == "GET" else None)

    def __repr__(self) -> str:
        return f"<MapPage {self.label} {self.base_url} map {self.map_id}>"

    @property
    def state(self) -> Locator:
        return self.page.get_by_test_id("connection-state")

    def bubble(self, bubble_id: int) -> Locator:
        return self.page.locator(f'[data-testid=bubble][data-bubble-id="{bubble_id}"]')

    def open(self, live: bool = True) -> MapPage:
        self.page.goto(f"{self.base_url}/maps/{self.map_id}")
        if live:
            self.expect_live()
        return self

    def reload(self) -> MapPage:
        self.page.reload()
        self.expect_live()
        return self

    def expect_live(self, timeout: float = SHOWN_MS) -> None:
        expect(self.state).to_have_attribute("data-state", "live", timeout=timeout)

    def bubbles(self) -> dict[int, Bubble]:
        drawn = self.page.locator("[data-testid=bubble]").evaluate_all(_READ_BUBBLES)
        return {b["id"]: Bubble.of(b) for b in drawn}

    @property
    def paused(self) -> Locator:
        """The banner saying why the map cannot be edited right now."""
        return self.page.get_by_test_id("paused")

    @property
    def zoom_level(self) -> Locator:
        return self.page.get_by_test_id("zoom-level")

    def button(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def focused_bubble(self) -> int | None:
        """The id of the bubble that has the keyboard focus, if one has."""
        found = self.page.evaluate("() => document.activeElement?.closest?.('[data-bubble-id]')"
                                   "?.dataset.bubbleId ?? null")
        return None if found is None else int(found)

    def center_of(self, bubble_id: int) -> tuple[float, float]:
        """Where a bubble's centre is on the screen."""
        box = self.bubble(bubble_id).locator("circle").bounding_box()
        assert box is not None
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    # gestures ---------------------------------------------------------------------------

    def create(self, x: float, y: float, text: str) -> int:
        """Double-click the canvas at board point (x, y), type ``text``, save; the new id."""
        canvas = self.page.get_by_test_id("canvas")
        selected = self.page.locator("[data-testid=bubble].selected")
        expect(selected).to_have_count(0)
        canvas.dblclick(position={"x": x, "y": y})
        expect(selected).to_have_count(1, timeout=SHOWN_MS)
        bubble_id = int(selected.get_attribute("data-bubble-id") or "0")
        self._save_text(bubble_id, text, expected_version=2)
        self.close_editor()
        return bubble_id

    def move(self, bubble_id: int, dx: float, dy: float) -> None:
        """Drag a bubble by (dx, dy) screen pixels and wait for the saved version."""
        version = int(self.bubble(bubble_id).get_attribute("data-version") or "0")
        box = self.bubble(bubble_id).bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        mouse = self.page.mouse
        mouse.move(x, y)
        mouse.down()
        mouse.move(x + dx / 2, y + dy / 2, steps=4)
        mouse.move(x + dx, y + dy, steps=4)
        mouse.up()
        expect(self.bubble(bubble_id)).to_have_attribute("data-version", str(version + 1),
                                                          timeout=SHOWN_MS)

    def select(self, bubble_id: int) -> None:
        self.bubble(bubble_id).click()
        expect(self.page.get_by_test_id("editor")).to_be_visible()

    def edit(self, bubble_id: int, text: str, swatch: int | None = None) -> None:
        """Select a bubble, change its text (and colour), save, and wait for the new version."""
        version = int(self.bubble(bubble_id).get_attribute("data-version") or "0")
        self.select(bubble_id)
        if swatch is not None:
            self.page.get_by_test_id("swatch").nth(swatch).click()
        self._save_text(bubble_id, text, expected_version=version + 1)
        self.close_editor()

    def type_text(self, bubble_id: int, text: str) -> None:
        """Select a bubble and type into its editor without saving."""
        self.select(bubble_id)
        self.page.get_by_test_id("editor-text").fill(text)

    def click_save(self) -> None:
        self.page.get_by_test_id("editor-save").click()

    def delete(self, bubble_id: int) -> None:
        self.select(bubble_id)
        self.page.get_by_test_id("editor-delete").click()
        expect(self.bubble(bubble_id)).to_have_count(0, timeout=SHOWN_MS)

    def close_editor(self) -> None:
        self.page.get_by_test_id("editor-close").click()
        expect(self.page.get_by_test_id("editor")).to_be_hidden()

    def _save_text(self, bubble_id: int, text: str, expected_version: int) -> None:
        self.page.get_by_test_id("editor-text").fill(text)
        self.click_save()
        expect(self.page.get_by_test_id("editor-version")).to_have_attribute(
            "data-version", str(expected_version), timeout=SHOWN_MS)
        expect(self.bubble(bubble_id)).to_have_attribute("data-version", str(expected_version))

    def expect_no_error(self) -> None:
        expect(self.page.get_by_test_id("toast-error")).to_have_count(0)


class Browsers:
    """Opens map pages, each in its own browser context (its own user and cookie).

    Every context gets a user agent naming the page, so nginx's access log can tell which
    page made which request.
    """

    def __init__(self, browser: Browser, token: str):
        self.browser = browser
        self.token = token
        self.contexts: list[BrowserContext] = []

    def page(self, base_url: str, user: str | None, map_id: int, label: str | None = None,
             **context_options: Any) -> MapPage:
        """A page of ``user`` (``None``: not signed in) in a new context; ``context_options``
        go to Playwright's ``new_context`` (e.g. a phone's ``viewport`` and ``has_touch``)."""
        label = label or user or "anonymous"
        options = {"viewport": {"width": 1100, "height": 700}, **context_options}
        context = self.browser.new_context(user_agent=self.agent(label), **options)
        self.contexts.append(context)
        if user is not None:
            response = context.request.post(base_url + "/api/1/session", data=credentials(user))
            assert response.ok, response.text()
        return MapPage(context.new_page(), base_url, map_id, label)

    def agent(self, label: str) -> str:
        return f"wsns-e2e/{self.token}/{label}"

    def close(self) -> None:
        for context in self.contexts:
            context.close()


# -- checks -------------------------------------------------------------------------------

def assert_converged(pages: list[MapPage], api: DemoApi, map_id: int,
                     timeout_s: float = SHOWN_MS / 1000) -> dict[int, Bubble]:
    """Every page draws exactly the bubbles ``GET /api/1/maps/<id>`` returns (ids, versions,
    text, colour, position); retried until a deadline, since frames may still be on their way.
    """
    report: list[str] = []

    def converged() -> tuple[dict[int, Bubble]] | None:
        stored = stored_bubbles(api, map_id)
        report.clear()
        for page in pages:
            drawn = page.bubbles()
            if drawn != stored:
                report.append(f"{page!r}: drawn {sorted(drawn.values(), key=_id)} != "
                              f"stored {sorted(stored.values(), key=_id)}")
        return None if report else (stored,)  # truthy even when the map is empty

    return wait_until(converged, timeout_s, lambda: "\n".join(report))[0]


def _id(bubble: Bubble) -> int:
    return bubble.id


def clients_of(stats: dict[str, Any], map_id: int) -> int:
    namespace = stats["namespaces"].get(map_path(map_id))
    return 0 if namespace is None else namespace["clients"]


def refused(stats: dict[str, Any]) -> int:
    return sum(stats["totals"]["connections_refused"].values())


# -- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    system = Deployment()
    try:
        yield system.start()
    finally:
        system.close()


@pytest.fixture
def healthy_deployment(deployment: Deployment) -> Iterator[Deployment]:
    """The shared deployment, for a test that kills a part of it: restarted afterwards."""
    try:
        yield deployment
    finally:
        deployment.heal()


@pytest.fixture
def browsers(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Browsers]:
    opened = Browsers(browser, re.sub(r"\W+", "-", request.node.name)[:60])
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def admin_api(deployment: Deployment) -> dict[str, DemoApi]:
    """An admin signed in on each instance (for ``/admin/wsns/stats``)."""
    first = DemoApi.sign_in(deployment.a.url, ADMIN)
    return {"a": first, "b": first.on(deployment.b.url)}
