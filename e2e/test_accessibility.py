"""No serious or critical accessibility violation on any page, as axe-core judges it.

axe-core (the engine behind browsers' accessibility audits) is installed from npm by
.ci/run into e2e/.npm and injected into each page as it stands after a user's steps;
every page is checked at a desktop and a phone size.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from e2e.bubblemap_fixtures import (
    ADMIN,
    SHOWN_MS,
    Browsers,
    Deployment,
    MapPage,
)
from tests.support.demo_api import DemoApi

AXE = Path(__file__).resolve().parent / ".npm" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
SIZES = {
    "desktop": {"viewport": {"width": 1100, "height": 700}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}


def blocking_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    assert AXE.exists(), f"{AXE} is missing: npm install --prefix e2e/.npm axe-core (see .ci/run)"
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:6]}"
            for v in violations if v["impact"] in BLOCKING]


def open_page(browsers: Browsers, base_url: str, user: str | None, size: str, map_id: int = 0) -> MapPage:
    # axe is injected as an inline script, which the pages' CSP forbids: bypass it for that.
    return browsers.page(base_url, user, map_id, f"{user}-{size}", bypass_csp=True, **SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_sign_in_page(deployment: Deployment, browsers: Browsers, size: str):
    page = open_page(browsers, deployment.a.url, None, size).page
    page.goto(deployment.a.url + "/")
    expect(page.get_by_test_id("signin-password")).to_be_visible()
    assert blocking_violations(page) == []


@pytest.mark.parametrize("size", SIZES)
def test_map_list(deployment: Deployment, browsers: Browsers, size: str):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    shared = ann.create_map("Team plans", private=True)["id"]
    ann.invite(shared, "bob")
    ann.ok("POST", f"/api/1/maps/{shared}/bubbles", {"x": 1, "y": 2, "text": "hi", "color": "#bfdbfe"})
    DemoApi.sign_in(deployment.a.url, "bob").create_map("Bob's public map")
    page = open_page(browsers, deployment.a.url, "ann", size).page
    page.goto(deployment.a.url + "/")
    expect(page.locator(f'[data-testid=map-item][data-map-id="{shared}"]')).to_contain_text("1 bubble")
    assert blocking_violations(page) == []


@pytest.mark.parametrize("size", SIZES)
def test_map_view_with_bubbles_and_the_editor_open(deployment: Deployment, browsers: Browsers, size: str):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Accessible", private=True)["id"]
    for n, color in enumerate(["#fde68a", "#bfdbfe", "#1e3a8a"]):
        ann.ok("POST", f"/api/1/maps/{map_id}/bubbles",
               {"x": 80 + 100 * n, "y": 120, "text": f"idea {n}" if n else "", "color": color})
    page = open_page(browsers, deployment.a.url, "ann", size, map_id).open()
    expect(page.page.get_by_test_id("bubble")).to_have_count(3)
    assert blocking_violations(page.page) == []
    page.select(next(iter(page.bubbles())))
    assert blocking_violations(page.page) == []


@pytest.mark.parametrize("size", SIZES)
def test_map_view_while_its_owner_renames_it(deployment: Deployment, browsers: Browsers, size: str):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("To be renamed")["id"]
    page = open_page(browsers, deployment.a.url, "ann", size, map_id).open()
    page.button("rename-map").click()
    expect(page.button("rename-title")).to_be_focused()
    assert blocking_violations(page.page) == []


def test_map_view_while_paused_and_when_denied(deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Private room", private=True)["id"]
    outsider = open_page(browsers, deployment.a.url, "mallory", "desktop", map_id).open(live=False)
    expect(outsider.state).to_have_attribute("data-state", "denied", timeout=SHOWN_MS)
    assert blocking_violations(outsider.page) == []
    owner = open_page(browsers, deployment.a.url, "ann", "desktop", map_id)
    # Every upgrade is answered "service restart": the page keeps reconnecting, paused.
    owner.page.route_web_socket(re.compile(r".*/api/1/ws/.*"), lambda ws: ws.close(code=1012))
    owner.open(live=False)
    expect(owner.state).to_have_attribute("data-state", "reconnecting", timeout=SHOWN_MS)
    expect(owner.paused).to_be_visible()
    assert blocking_violations(owner.page) == []


@pytest.mark.parametrize("size", SIZES)
def test_admin_page(deployment: Deployment, browsers: Browsers, size: str):
    page = open_page(browsers, deployment.a.url, ADMIN, size).page
    page.goto(deployment.a.url + "/admin/wsns")
    expect(page.locator("#refresh")).to_have_attribute("data-state", "live", timeout=SHOWN_MS)
    assert blocking_violations(page) == []
