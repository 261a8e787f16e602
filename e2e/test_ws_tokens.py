"""The page's WebSocket tokens in Chromium: short grants refreshed on one connection, never
a token in a URL, and a sign-out that reaches the page at once (issue 27)."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Response, WebSocket, expect

from e2e.bubblemap_fixtures import SHOWN_MS, Browsers, Deployment, map_path
from tests.support.demo_api import DemoApi
from tests.support.polling import pumping, wait_until
from tests.support.processes import ServerProcess

#: The short-lived instance's grant (BUBBLEMAP_WS_TOKEN_LIFETIME): the page refreshes a
#: quarter of it before the end, every 3 s.
GRANT_S = 4
TOKEN_URL = "/api/1/session/ws-token"


@pytest.fixture(scope="module")
def brief(spawn_module_server: Callable[..., ServerProcess]) -> ServerProcess:
    """One demo instance whose WebSocket grants last ``GRANT_S`` seconds."""
    db = Path(tempfile.mkdtemp(prefix="wsns-e2e-tokens-")) / "db.sqlite"
    return spawn_module_server(
        [sys.executable, "-m", "demo_app", "--port", "{port}", "--db", str(db)],
        ready_path="/api/1/session", env={"BUBBLEMAP_WS_TOKEN_LIFETIME": str(GRANT_S)},
        name="bubblemap-brief").start()


class Watched:
    """What a page fetched and opened: every URL, the tokens it was given, its sockets."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.tokens: list[str] = []
        self.sockets: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("response", self._response)
        page.on("websocket", lambda ws: self._socket(ws))

    def _response(self, response: Response) -> None:
        if response.url.endswith(TOKEN_URL) and response.ok:
            self.tokens.append(response.json()["token"])

    def _socket(self, ws: WebSocket) -> None:
        self.urls.append(ws.url)
        self.sockets.append(ws.url)


def test_the_page_refreshes_its_short_grant_on_one_connection_and_no_url_carries_a_token(
        brief: ServerProcess, browsers: Browsers):
    map_id = DemoApi.sign_in(brief.url, "ann").create_map("Short grants")["id"]
    page = browsers.page(brief.url, "ann", map_id, "ann, short grants")
    watched = Watched()
    watched.attach(page.page)
    page.open()
    # The upgrade's token, then three refreshes: past three grants without a reconnect.
    wait_until(lambda: len(watched.tokens) >= 4, 4 * GRANT_S + SHOWN_MS / 1000,
               lambda: f"four tokens fetched; got {len(watched.tokens)}", pause=pumping(page.page))
    expect(page.state).to_have_attribute("data-state", "live")
    assert [url for url in watched.sockets if url.endswith(map_path(map_id))] == \
        [brief.url.replace("http", "ws") + map_path(map_id)], "the connection was replaced"
    assert [url for url in watched.urls for token in watched.tokens if token in url] == []
    page.create(200, 200, "made after three refreshes")
    page.expect_no_error()


def test_signing_out_on_one_instance_tells_the_page_on_the_other_at_once_and_not_the_other_session(
        deployment: Deployment, browsers: Browsers):
    """Long (5 minute) grants here: only ``wsns.disconnect`` can end the page this soon."""
    map_id = DemoApi.sign_in(deployment.a.url, "ann").create_map("Signing out")["id"]
    leaving = browsers.page(deployment.b.url, "ann", map_id, "ann leaving").open()
    staying = browsers.page(deployment.b.url, "ann", map_id, "ann staying").open()
    # The leaving page's own cookie (one host, two ports: one cookie), sent to the other instance.
    out = leaving.page.context.request.delete(deployment.a.url + "/api/1/session",
                                              headers={"Content-Type": "application/json"})
    assert out.status == 204
    expect(leaving.state).to_have_attribute("data-state", "signed-out", timeout=SHOWN_MS)
    expect(leaving.page.get_by_test_id("overlay")).to_contain_text("You are signed out")
    expect(staying.state).to_have_attribute("data-state", "live", timeout=SHOWN_MS)
    staying.create(300, 200, "still signed in")
    staying.expect_no_error()

