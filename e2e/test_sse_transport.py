"""bubblemap over Server-Sent Events (issue 26): real Chromium pages, two instances, one
Redis, nginx.

- Behind an nginx that refuses every WebSocket upgrade (400 when ``Upgrade`` is set, as
  some corporate proxies do) the page's client falls back to SSE + POST on its own, and a
  Redis restart then an instance kill still end with every page drawing the database.
- ``?transport=sse`` forces SSE on a page: it and a WebSocket page see each other's edits.
- A plain ``EventSource`` (no SDK) on a history namespace recovers after the instance it
  streams from is killed: it comes back through nginx on the other one with
  ``Last-Event-ID`` and gets every frame once, in order.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from e2e.bubblemap_fixtures import (
    ADMIN,
    RECOVERED_MS,
    Browsers,
    Deployment,
    MapPage,
    Nginx,
    assert_converged,
    clients_of,
    map_path,
)
from tests.support.demo_api import DemoApi
from tests.support.polling import pumping, wait_until

#: After a fault, every page equals the database within this (as test_convergence.py).
CONVERGED_S = 10.0
#: The page's client remembers its fallback here (js-client/wsns.js).
TRANSPORT_KEY = "wsns.transport"


class UpgradeRefusingNginx(Nginx):
    """The deployment's nginx, except that a request asking for an upgrade gets a 400."""

    def _config(self, port: int, upstreams: list[int]) -> str:
        config = super()._config(port, upstreams)
        proxied = "        location / {\n"
        assert proxied in config
        return config.replace(proxied, proxied + "            if ($http_upgrade) { return 400; }\n", 1)


class SseDeployment(Deployment):
    """The e2e deployment behind an nginx that refuses upgrades; the instances share the
    secret that signs an SSE stream's client token, so a POST may land on either."""

    def __init__(self) -> None:
        super().__init__()
        secret = secrets.token_hex(16)
        for server in self.instances.values():
            server.env["SANIC_WSNS_SSE_SECRET"] = secret
        self.nginx.close()  # never started: replaced before anything runs
        self.nginx = UpgradeRefusingNginx([server.port for server in self.instances.values()])


@pytest.fixture(scope="module")
def sse_deployment() -> Iterator[SseDeployment]:
    system = SseDeployment()
    try:
        yield system.start()  # type: ignore[misc]
    finally:
        system.close()


@pytest.fixture
def healthy(sse_deployment: SseDeployment) -> Iterator[SseDeployment]:
    try:
        yield sse_deployment
    finally:
        sse_deployment.heal()


def transport(page: MapPage) -> str:
    return str(page.page.evaluate("window.bubblemap.view.connection.ns.transport"))


def open_forced(page: MapPage, forced: str) -> MapPage:
    page.page.goto(f"{page.base_url}/maps/{page.map_id}?transport={forced}")
    page.expect_live()
    return page


def create(api: DemoApi, map_id: int, text: str) -> int:
    return int(api.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                      {"x": 100, "y": 100, "text": text, "color": "#bfdbfe"})["id"])


def test_behind_a_proxy_that_refuses_upgrades_pages_fall_back_to_sse_and_converge_after_faults(
        healthy: SseDeployment, browsers: Browsers):
    deployment = healthy
    ann = DemoApi.sign_in(deployment.nginx.url, "ann")
    map_id = ann.create_map("No upgrades here")["id"]
    pages = [browsers.page(deployment.nginx.url, user, map_id).open(live=False) for user in ("ann", "bob")]
    for page in pages:
        page.expect_live(timeout=RECOVERED_MS)  # two refused upgrades, then SSE
        assert transport(page) == "sse"
        assert page.page.evaluate(f"sessionStorage.getItem('{TRANSPORT_KEY}')") == "sse"
    upgrades = [line for line in deployment.nginx.log_lines() if line.status == 400]
    assert upgrades, "nginx refused no upgrade"

    bubble = pages[0].create(200, 150, "written over a POST")
    expect(pages[1].bubble(bubble)).to_have_count(1)
    pages[1].edit(bubble, "edited over a POST")
    assert_converged(pages, ann, map_id)

    deployment.redis.kill()
    create(ann, map_id, "while Redis is down")
    deployment.redis.start()
    create(ann, map_id, "after Redis came back")
    for page in pages:
        page.expect_live(timeout=RECOVERED_MS)
    assert_converged(pages, ann, map_id, timeout_s=CONVERGED_S)

    deployment.a.kill()  # every stream it held ends; they come back through nginx on b
    create(ann, map_id, "while a is down")
    for page in pages:
        page.expect_live(timeout=RECOVERED_MS)
        assert transport(page) == "sse"
    pages[0].edit(bubble, "edited with a gone")
    assert_converged(pages, ann, map_id, timeout_s=CONVERGED_S)
    deployment.heal()
    create(ann, map_id, "after a came back")
    assert_converged(pages, ann, map_id, timeout_s=CONVERGED_S)


def test_a_page_forced_to_sse_and_a_websocket_page_see_each_others_edits(
        sse_deployment: SseDeployment, browsers: Browsers):
    deployment = sse_deployment
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Both transports")["id"]
    over_sse = open_forced(browsers.page(deployment.a.url, "ann", map_id, "sse"), "sse")
    over_ws = browsers.page(deployment.b.url, "bob", map_id, "websocket").open()
    assert (transport(over_sse), transport(over_ws)) == ("sse", "websocket")
    made_on_sse = over_sse.create(150, 150, "from the SSE page")
    made_on_ws = over_ws.create(400, 200, "from the WebSocket page")
    expect(over_ws.bubble(made_on_sse)).to_have_count(1)
    expect(over_sse.bubble(made_on_ws)).to_have_count(1)
    over_ws.edit(made_on_sse, "edited on the WebSocket page")
    over_sse.delete(made_on_ws)
    assert_converged([over_sse, over_ws], ann, map_id)
    assert over_sse.page.evaluate(f"sessionStorage.getItem('{TRANSPORT_KEY}')") is None, \
        "a forced transport is not a fallback: nothing is remembered"


#: A plain EventSource on the map's namespace, no SDK: it records each event's type, offset
#: and id, and how often it (re)opened.
_PLAIN_EVENT_SOURCE = """path => {
  window.seen = [];
  window.opens = 0;
  const source = new EventSource(path);
  source.onopen = () => { window.opens += 1; };
  for (const type of ["bubble-created", "resync"]) {
    source.addEventListener(type, (event) => {
      window.seen.push({type, offset: JSON.parse(event.data).offset ?? null, id: event.lastEventId});
    });
  }
}"""


def seen(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.seen")


def test_a_plain_event_source_recovers_every_frame_after_the_instance_it_streams_from_is_killed(
        healthy: SseDeployment, browsers: Browsers):
    deployment = healthy
    ann = DemoApi.sign_in(deployment.nginx.url, "ann")
    map_id = ann.create_map("Plain EventSource")["id"]
    admins = {name: DemoApi.sign_in(server.url, ADMIN) for name, server in deployment.instances.items()}
    page = browsers.page(deployment.nginx.url, "ann", map_id, "plain").page
    page.goto(f"{deployment.nginx.url}/")  # the map list: same origin, no map connection
    page.evaluate(_PLAIN_EVENT_SOURCE, f"/wsns/sse{map_path(map_id)}")
    holder = wait_until(lambda: next((name for name, api in admins.items()
                                      if clients_of(api.stats(), map_id)), None),
                        CONVERGED_S, "no instance holds the stream")
    survivor = "b" if holder == "a" else "a"
    writer = ann.on(deployment.instances[survivor].url)
    for n in range(3):
        create(writer, map_id, f"before {n}")
    wait_until(lambda: len(seen(page)) == 3, CONVERGED_S, lambda: f"seen {seen(page)}", pause=pumping(page))

    deployment.instances[holder].kill()
    for n in range(3):
        create(writer, map_id, f"while the stream is away {n}")
    wait_until(lambda: len(seen(page)) >= 6, RECOVERED_MS / 1000, lambda: f"seen {seen(page)}",
               pause=pumping(page))
    events = seen(page)
    assert [event["type"] for event in events] == ["bubble-created"] * 6, events
    assert [event["offset"] for event in events] == list(range(1, 7)), "every frame once, in order"
    epoch = events[0]["id"].rsplit(":", 1)[0]
    assert [event["id"] for event in events] == [f"{epoch}:{n}" for n in range(1, 7)]
    assert page.evaluate("window.opens") == 2
    assert clients_of(admins[survivor].stats(), map_id) == 1
