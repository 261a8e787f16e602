"""The admin page shows the whole deployment: every instance's report arrives through the
broker, a killed instance goes stale, and a non-admin gets a styled refusal page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.bubblemap_fixtures import (
    ADMIN,
    RECOVERED_MS,
    SHOWN_MS,
    Browsers,
    Deployment,
)
from e2e.test_accessibility import blocking_violations
from tests.support.demo_api import DemoApi


def open_admin_page(browsers: Browsers, base_url: str, user: str) -> Page:
    # bypass_csp: axe-core is injected as an inline script, which the page's CSP forbids.
    page = browsers.page(base_url, user, 0, f"{user} on the admin page", bypass_csp=True).page
    page.goto(base_url + "/admin/wsns")
    return page


def row(page: Page, instance: str):
    return page.locator(f'[data-testid=instance-row][data-instance="{instance}"]')


def test_the_admin_page_shows_every_instance_and_the_totals_and_a_killed_one_goes_stale(
        healthy_deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    deployment = healthy_deployment
    ids = {name: api.stats()["instance"] for name, api in admin_api.items()}
    map_id = DemoApi.sign_in(deployment.a.url, "ann").create_map("Watched")["id"]
    browsers.page(deployment.b.url, "ann", map_id, "ann on b").open()
    page = open_admin_page(browsers, deployment.a.url, ADMIN)
    expect(page.get_by_test_id("admin-state")).to_have_attribute("data-state", "live", timeout=SHOWN_MS)
    for instance in ids.values():
        expect(row(page, instance)).to_have_attribute("data-stale", "false", timeout=SHOWN_MS)
        expect(row(page, instance)).to_contain_text("redis (pubsub) · connected")
    totals = page.get_by_test_id("totals")
    expect(totals.locator("[data-stat=instances] .stat-value")).to_have_text("2")
    # The admin page's own connection on a, the map page's on b.
    expect(row(page, ids["b"]).locator("td").nth(2)).to_have_text("1", timeout=SHOWN_MS)
    expect(totals.locator("[data-stat=connections] .stat-value")).to_have_text("2", timeout=SHOWN_MS)
    expect(page.locator("svg.sparkline")).not_to_have_count(0)
    assert blocking_violations(page) == []
    # The map open on both instances is one namespace (with the admin one: 2), not one each.
    browsers.page(deployment.a.url, "ann", map_id, "ann on a").open()
    expect(totals.locator("[data-stat=connections] .stat-value")).to_have_text("3", timeout=SHOWN_MS)
    expect(totals.locator("[data-stat=namespaces] .stat-value")).to_have_text("2")

    deployment.b.kill()
    expect(row(page, ids["b"])).to_have_attribute("data-stale", "true", timeout=RECOVERED_MS)
    expect(row(page, ids["a"])).to_have_attribute("data-stale", "false")
    expect(totals.locator("[data-stat=instances] .stat-value")).to_have_text("1")
    expect(page.get_by_test_id("summary")).to_have_text("1 live, 1 stale.")


@pytest.mark.parametrize(("user", "status", "title"),
                         [("ann", 403, "Admins only"), (None, 401, "Sign in first")])
def test_others_get_a_styled_refusal_page(deployment: Deployment, browsers: Browsers,
                                         user: str | None, status: int, title: str):
    context_page = browsers.page(deployment.a.url, user, 0, f"{user} refused", bypass_csp=True).page
    response = context_page.goto(deployment.a.url + "/admin/wsns")
    assert response is not None and response.status == status
    denied = context_page.get_by_test_id("denied")
    expect(denied).to_have_attribute("data-status", str(status))
    expect(denied.get_by_role("heading", level=1)).to_have_text(title)
    expect(context_page.locator(".topbar .brand")).to_be_visible()
    assert context_page.evaluate(
        "() => getComputedStyle(document.querySelector('[data-testid=denied]')).borderRadius") == "16px"
    assert blocking_violations(context_page) == []
