"""Who changed what, and a map list that keeps up: Chromium pages on two instances, one
Redis, as in test_bubblemap.py.

A bubble shows who changed it last, on every page, live; a map list page on one instance
follows maps created, edited, shared and deleted through the other, without a reload.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.bubblemap_fixtures import (
    SHOWN_MS,
    Browsers,
    Deployment,
    assert_converged,
)
from tests.support.demo_api import DemoApi


def test_each_person_sees_the_others_name_on_the_bubble_they_changed_and_the_owners_rename(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Who did this")["id"]
    page_a = browsers.page(deployment.a.url, "ann", map_id, "ann on A").open()
    page_b = browsers.page(deployment.b.url, "bob", map_id, "bob on B").open()

    made = page_a.create(220, 160, "ann's idea")
    by_on_b = page_b.bubble(made).get_by_test_id("bubble-edited-by")
    expect(by_on_b).to_have_text("by ann", timeout=SHOWN_MS)
    expect(page_b.bubble(made)).to_have_attribute("aria-label", "ann's idea by ann (edited just now)")

    page_b.edit(made, "bob's take")
    by_on_a = page_a.bubble(made).get_by_test_id("bubble-edited-by")
    expect(by_on_a).to_have_text("by bob", timeout=SHOWN_MS)
    expect(page_a.bubble(made)).to_have_attribute("aria-label", "bob's take by bob (edited just now)")
    page_a.select(made)
    expect(page_a.page.get_by_test_id("editor-edited")).to_have_text("edited by bob, just now")

    page_a.close_editor()
    page_a.button("rename-map").click()
    page_a.button("rename-title").fill("Who did this, renamed")
    page_a.button("rename-save").click()
    expect(page_a.button("map-title")).to_have_text("Who did this, renamed")
    expect(page_b.button("map-title")).to_have_text("Who did this, renamed", timeout=SHOWN_MS)
    assert_converged([page_a, page_b], ann, map_id)


def card(page: Page, map_id: int):
    return page.locator(f'[data-testid=map-item][data-map-id="{map_id}"]')


def test_a_map_list_on_one_instance_follows_maps_made_edited_renamed_shared_and_deleted_elsewhere(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    DemoApi.sign_in(deployment.a.url, "bob")  # bob has an account, so ann can invite him
    lister = browsers.page(deployment.b.url, "bob", 0, "bob's list on B").page
    lister.goto(deployment.b.url + "/")
    expect(lister.get_by_test_id("map-list")).to_have_attribute("data-state", "live", timeout=SHOWN_MS)
    lister.evaluate("() => { window.notReloaded = true; }")

    public = ann.create_map("Made on A")["id"]
    expect(card(lister, public)).to_contain_text("Made on A", timeout=SHOWN_MS)
    expect(card(lister, public).get_by_test_id("map-facts")).to_have_text("0 bubbles")

    ann.ok("POST", f"/api/1/maps/{public}/bubbles", {"x": 1, "y": 2, "text": "hi", "color": "#bfdbfe"})
    expect(card(lister, public).get_by_test_id("map-facts")).to_have_text("1 bubble", timeout=SHOWN_MS)

    ann.ok("PATCH", f"/api/1/maps/{public}", {"title": "Renamed on A"})
    expect(card(lister, public)).to_contain_text("Renamed on A", timeout=SHOWN_MS)

    private = ann.create_map("Ann's secret", private=True)["id"]
    ann.ok("POST", f"/api/1/maps/{private}/members", {"name": "bob"})
    expect(card(lister, private).get_by_test_id("map-facts")).to_have_text(
        "0 bubbles · with bob", timeout=SHOWN_MS)

    ann.ok("DELETE", f"/api/1/maps/{public}")
    expect(card(lister, public)).to_have_count(0, timeout=SHOWN_MS)
    assert lister.evaluate("() => window.notReloaded") is True
    ids = lister.get_by_test_id("map-item").evaluate_all("els => els.map(e => Number(e.dataset.mapId))")
    assert ids == sorted(ids, reverse=True), "newest map first"


def test_the_map_list_shows_the_newest_page_and_older_maps_on_demand(
        deployment: Deployment, browsers: Browsers):
    """``GET /api/1/maps`` is paged (50 cards): the list shows the newest page, "Show
    older maps" adds the next one, and a map made meanwhile still appears live."""
    makers = [DemoApi.sign_in(deployment.a.url, f"maker{n}") for n in range(3)]
    lister = browsers.page(deployment.b.url, "bob", 0, "bob's list on B").page
    lister.goto(deployment.b.url + "/")
    expect(lister.get_by_test_id("map-list")).to_have_attribute("data-state", "live", timeout=SHOWN_MS)
    made = [maker.create_map(f"Paged {n}")["id"] for n in range(20) for maker in makers]  # 60, newest last
    # Cards are published in id order: once the newest is shown live, every card is out,
    # and a reload shows what the first page holds, with no card still on its way.
    expect(card(lister, made[-1])).to_have_count(1, timeout=SHOWN_MS)
    lister.reload()
    expect(lister.get_by_test_id("map-list")).to_have_attribute("data-state", "live", timeout=SHOWN_MS)
    expect(card(lister, made[-1])).to_have_count(1, timeout=SHOWN_MS)
    expect(lister.get_by_test_id("map-item")).to_have_count(50)
    expect(card(lister, made[0])).to_have_count(0)

    lister.get_by_test_id("map-list-more").click()
    expect(card(lister, made[0])).to_have_count(1, timeout=SHOWN_MS)
    newest = makers[0].create_map("Made after paging")["id"]
    expect(card(lister, newest)).to_have_count(1, timeout=SHOWN_MS)
    ids = lister.get_by_test_id("map-item").evaluate_all("els => els.map(e => Number(e.dataset.mapId))")
    assert ids == sorted(ids, reverse=True), "newest map first"
    assert set(made) <= set(ids)
