"""Who is on a map (presence avatars) and a page that catches up instead of re-fetching
(recovery), in Chromium against two demo instances sharing one Redis."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect

from e2e.bubblemap_fixtures import (
    RECOVERED_MS,
    SHOWN_MS,
    Browsers,
    Deployment,
    MapPage,
    assert_converged,
)
from tests.support.demo_api import DemoApi


def avatars(page: MapPage):
    return page.page.get_by_test_id("avatar")


def test_pages_on_two_instances_see_each_others_avatars_come_and_go(deployment: Deployment,
                                                                    browsers: Browsers):
    map_id = DemoApi.sign_in(deployment.a.url, "ann").create_map("Who is here")["id"]
    ann = browsers.page(deployment.a.url, "ann", map_id, "ann on a").open()
    expect(avatars(ann)).to_have_count(1, timeout=SHOWN_MS)
    bob = browsers.page(deployment.b.url, "bob", map_id, "bob on b").open()
    for page in (ann, bob):
        expect(avatars(page)).to_have_count(2, timeout=SHOWN_MS)
        expect(page.page.locator('[data-testid=avatar][data-name="bob"]')).to_have_attribute(
            "title", "bob (you)" if page is bob else "bob")
    # One person in two tabs is one avatar.
    second_tab = browsers.page(deployment.b.url, "ann", map_id, "ann's second tab").open()
    expect(avatars(second_tab)).to_have_count(2, timeout=SHOWN_MS)
    expect(avatars(bob)).to_have_count(2)
    bob.page.close()
    for page in (ann, second_tab):
        expect(avatars(page)).to_have_count(1, timeout=SHOWN_MS)
        expect(avatars(page)).to_have_attribute("data-name", "ann")


def test_a_page_whose_instance_restarts_catches_up_without_re_fetching_the_map(
        healthy_deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    """Instance b dies while changes are made through a; when b is back, its page gets the
    missed changes as frames (recovery), not by re-fetching the map."""
    deployment = healthy_deployment
    ann_api = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann_api.create_map("Catches up")["id"]
    writer = browsers.page(deployment.a.url, "ann", map_id, "writer on a").open()
    reader = browsers.page(deployment.b.url, "bob", map_id, "reader on b")
    frames: list[dict] = []  # every frame the reader's WebSockets received, in order
    reader.page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(json.loads(payload))))
    reader.open()
    first = writer.create(150, 150, "before")
    expect(reader.bubble(first)).to_contain_text("before", timeout=SHOWN_MS)

    deployment.b.kill()
    expect(reader.state).not_to_have_attribute("data-state", "live", timeout=RECOVERED_MS)
    outage = time.monotonic()
    made = [writer.create(x, y, f"made while b was down {n}")
            for n, (x, y) in enumerate([(500, 150), (500, 420), (850, 300)])]
    writer.edit(first, "edited while b was down")
    deployment.heal()

    reader.expect_live(timeout=RECOVERED_MS)
    for bubble in made:
        expect(reader.bubble(bubble)).to_be_visible(timeout=SHOWN_MS)
    expect(reader.bubble(first)).to_contain_text("edited while b was down", timeout=SHOWN_MS)
    assert_converged([writer, reader], ann_api, map_id)
    # Outlast the client's resync jitter (3 s) while Playwright hands over the page's events.
    reader.page.wait_for_timeout(3500)
    welcomes = [n for n, f in enumerate(frames) if f["type"] == "welcome"]
    assert len(welcomes) == 2, "one welcome, then one after the restart"
    after = frames[welcomes[1]:]
    assert after[0]["data"]["recovered"] is True
    types = [f["type"] for f in after]
    assert "snapshot" not in types and "resync" not in types, types
    assert [t for t in reader.refetches if t > outage] == [], "the page re-fetched the map"
