"""bubblemap in Chromium with ``WSNS_COMPRESSION`` on: the browser agrees on
permessage-deflate, and a snapshot and a broadcast large enough to be compressed show on
the page as they were stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, expect

from e2e.bubblemap_fixtures import SHOWN_MS, Browsers, MapPage
from sanic_wsns.deflate import AGREEMENT
from tests.support.demo_api import DemoApi

LONG_TEXT = "a bubble long enough to be sent compressed " * 8  # > 256 bytes of JSON


def test_bubblemap_works_in_chromium_with_compression_on(spawn_server: Any, browsers: Browsers,
                                                           tmp_path: Path) -> None:
    server = spawn_server([sys.executable, "-m", "demo_app", "--port", "{port}", "--db",
                           str(tmp_path / "bubblemap.db")], ready_path="/api/1/session",
                          env={"SANIC_WSNS_COMPRESSION": "true"}, name="bubblemap-compressed").start()
    api = DemoApi.sign_in(server.url, "ann")
    map_id = api.create_map("compressed")["id"]
    stored = api.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                    {"x": 200, "y": 150, "text": LONG_TEXT, "color": "#336699"})

    page = browsers.page(server.url, "ann", map_id)
    handshakes: list[dict[str, str]] = []
    cdp = page.page.context.new_cdp_session(page.page)
    cdp.on("Network.webSocketHandshakeResponseReceived",
           lambda event: handshakes.append({k.lower(): v for k, v in event["response"]["headers"].items()}))
    cdp.send("Network.enable")
    page.open()
    assert any(h.get("sec-websocket-extensions") == AGREEMENT for h in handshakes), handshakes

    # In the snapshot (sent to this client alone), then in a broadcast.
    expect(text_of(page, stored["id"])).to_have_text(LONG_TEXT.strip(), timeout=SHOWN_MS)
    created = api.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                     {"x": 400, "y": 300, "text": LONG_TEXT.upper(), "color": "#993366"})
    expect(text_of(page, created["id"])).to_have_text(LONG_TEXT.upper().strip(), timeout=SHOWN_MS)


def text_of(page: MapPage, bubble_id: int) -> Locator:
    return page.bubble(bubble_id).locator(".bubble-text")
