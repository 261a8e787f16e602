"""A rolling deploy behind nginx, in Chromium: SIGTERM one instance, then the other.

Pages open the map through nginx (round-robin, no stickiness), so some land on instance a
and some on b. When an instance gets SIGTERM its pages are closed with 1001, reconnect
through nginx to the instance still up, and recover from the map's history: the welcome
says ``recovered``, the frames they missed follow it, no ``resync`` and no ``snapshot``
comes, and the page never re-fetches the map. Bubbles are created over REST on the
surviving instance the whole time the switch lasts; every page gets every one of them
once, in offset order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from e2e.bubblemap_fixtures import (
    RECOVERED_MS,
    SHOWN_MS,
    Browsers,
    Deployment,
    MapPage,
    assert_converged,
    clients_of,
)
from tests.support.demo_api import DemoApi
from tests.support.polling import wait_until
from tests.support.processes import ServerProcess

#: Records the close code of every WebSocket the page opens (Playwright reports a close
#: without its code). Injected before the page's own scripts, untouched by its CSP.
RECORD_CLOSE_CODES = """
window.wsCloseCodes = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("close", (event) => window.wsCloseCodes.push(event.code));
  }
};
"""
PAGES = 4
#: Bubbles made before the first SIGTERM, after each switch, and at most during one.
BEFORE, AFTER, AT_MOST_DURING = 2, 2, 100


@dataclass
class WatchedPage:
    """A map page with every frame its WebSockets received, in order."""

    map_page: MapPage
    frames: list[dict[str, Any]] = field(default_factory=list)
    instance: str = ""  # "a" or "b": where its current connection is

    def welcomes(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "welcome"]

    def close_codes(self) -> list[int]:
        return self.map_page.page.evaluate("() => window.wsCloseCodes")

    def offsets(self) -> list[int]:
        return [f["offset"] for f in self.frames if "offset" in f]


def watch(browsers: Browsers, base_url: str, user: str, map_id: int) -> WatchedPage:
    map_page = browsers.page(base_url, user, map_id, f"{user} via nginx")
    watched = WatchedPage(map_page)
    map_page.page.add_init_script(RECORD_CLOSE_CODES)
    map_page.page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: watched.frames.append(json.loads(payload))))
    return watched


def open_on_both_instances(deployment: Deployment, browsers: Browsers, admin: dict[str, DemoApi],
                           map_id: int) -> list[WatchedPage]:
    """Open ``PAGES`` pages through nginx, half on each instance. Where a page landed is read
    from the instances' stats; a page that lands where enough are already is closed, and one
    extra request through nginx moves its round-robin on before the next try."""
    nudge = DemoApi.sign_in(deployment.nginx.url, "nudger")
    pages: list[WatchedPage] = []
    for attempt in range(4 * PAGES):
        if len(pages) == PAGES:
            return pages
        before = connections(admin, map_id)
        watched = watch(browsers, deployment.nginx.url, f"reader{attempt}", map_id)
        watched.map_page.open()
        landed = wait_until(lambda before=before: newcomer(before, connections(admin, map_id)),
                            SHOWN_MS / 1000, "the page's connection in either instance's stats")
        if sum(p.instance == landed for p in pages) < PAGES // 2:
            watched.instance = landed
            pages.append(watched)
            continue
        watched.map_page.page.close()
        wait_until(lambda before=before: connections(admin, map_id) == before,
                   SHOWN_MS / 1000, "the closed page's connection to leave")
        nudge.call("GET", "/api/1/session")
    raise AssertionError(f"nginx kept sending pages to one instance: {[p.instance for p in pages]}")


def connections(admin: dict[str, DemoApi], map_id: int) -> dict[str, int]:
    """How many connections each instance holds on the map."""
    return {name: clients_of(api.stats(), map_id) for name, api in admin.items()}


def newcomer(before: dict[str, int], now: dict[str, int]) -> str | None:
    """The instance that holds one more connection now, if one does."""
    return next((name for name in now if now[name] > before[name]), None)


def switch(stopped: ServerProcess, writer: DemoApi, pages: list[WatchedPage], map_id: int,
           survivor: str) -> list[int]:
    """SIGTERM ``stopped`` and make bubbles through the survivor until it has exited and every
    page that was on it is live on the survivor; the ids made."""
    moving = [p for p in pages if p.instance != survivor]
    welcomed = {id(p): len(p.welcomes()) for p in moving}
    stopped.terminate()
    made = []

    def switched() -> bool:
        return stopped.ended() and all(len(p.welcomes()) > welcomed[id(p)] for p in moving)

    while not switched():
        assert len(made) < AT_MOST_DURING, "the switch did not end (see e2e/artifacts/)"
        made.append(create_bubble(writer, map_id, f"during the switch to {survivor}"))
        moving[0].map_page.page.wait_for_timeout(50)  # hands Playwright's frame events over
    stopped.stop()  # reaps the process
    for page in pages:
        page.instance = survivor
        page.map_page.expect_live(timeout=RECOVERED_MS)
    return made


def create_bubble(api: DemoApi, map_id: int, text: str) -> int:
    return api.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                  {"x": 100, "y": 100, "text": text, "color": "#bfdbfe"})["id"]


def test_a_rolling_deploy_loses_nothing_and_no_page_re_fetches(
        healthy_deployment: Deployment, browsers: Browsers):
    deployment = healthy_deployment
    admin_a = DemoApi.sign_in(deployment.a.url, "admin")
    admin = {"a": admin_a, "b": admin_a.on(deployment.b.url)}
    owner = DemoApi.sign_in(deployment.a.url, "owner")
    map_id = owner.create_map("Rolling deploy")["id"]
    made = [create_bubble(owner, map_id, "before") for _ in range(BEFORE)]
    pages = open_on_both_instances(deployment, browsers, admin, map_id)
    started = time.monotonic()
    first_moved = [p for p in pages if p.instance == "a"]

    for stopped, survivor in ((deployment.a, "b"), (deployment.b, "a")):
        writer = owner.on(deployment.instances[survivor].url)
        made += switch(stopped, writer, pages, map_id, survivor)
        made += [create_bubble(writer, map_id, f"after the switch to {survivor}")
                 for _ in range(AFTER)]
        stats = admin[survivor].stats()
        assert clients_of(stats, map_id) == PAGES, "every page is on the instance still up"
        deployment.heal()  # the new version of the stopped instance starts

    stored = assert_converged([p.map_page for p in pages], owner, map_id)
    assert set(made) <= set(stored)
    for page in pages:
        page.map_page.page.wait_for_timeout(3500)  # outlast a resync's jittered re-fetch
        welcomes = page.welcomes()
        moves = 2 if page in first_moved else 1  # a, then b: a's pages move twice
        assert len(welcomes) == 1 + moves, f"{page.map_page!r}: {len(welcomes)} welcomes"
        assert page.close_codes() == [1001] * moves, page.map_page
        for welcome in welcomes[1:]:
            assert welcome["data"]["recovered"] is True, (page.map_page, welcome)
        after_first = page.frames[page.frames.index(welcomes[1]):]
        types = {f["type"] for f in after_first}
        assert not types & {"resync", "snapshot"}, (page.map_page, types)
        first = welcomes[0]["data"]["position"]["offset"]
        offsets = page.offsets()
        assert offsets == list(range(first + 1, first + 1 + len(offsets))), \
            f"{page.map_page!r}: offsets with a gap, a duplicate or out of order: {offsets}"
        assert len(offsets) == len(made) - BEFORE, page.map_page
        assert [t for t in page.map_page.refetches if t > started] == [], \
            f"{page.map_page!r} re-fetched the map"
