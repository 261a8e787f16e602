"""What each person is doing, in Chromium on two instances: a bubble someone selected is
ringed in their colour on the others' pages, and the people list says "editing bubble N",
until they deselect it or leave (issue 27 item 5)."""

from __future__ import annotations

from playwright.sync_api import expect

from demo_app.people import color_of
from e2e.bubblemap_fixtures import RECOVERED_MS, SHOWN_MS, Browsers, Deployment, MapPage
from tests.support.demo_api import DemoApi


def doing(page: MapPage, name: str):
    return page.page.locator(f'[data-testid=person][data-name="{name}"] [data-testid=doing]')


def test_a_selected_bubble_is_ringed_in_the_persons_colour_elsewhere_until_they_stop(
        deployment: Deployment, browsers: Browsers):
    map_id = DemoApi.sign_in(deployment.a.url, "ann").create_map("Who does what")["id"]
    ann = browsers.page(deployment.a.url, "ann", map_id, "ann on a").open()
    bob = browsers.page(deployment.b.url, "bob", map_id, "bob on b").open()
    first, second = ann.create(200, 200, "first"), ann.create(400, 250, "second")
    expect(bob.bubble(second)).to_have_count(1, timeout=SHOWN_MS)

    ann.select(second)
    ringed = bob.bubble(second)
    expect(ringed).to_have_attribute("data-editor", "ann", timeout=SHOWN_MS)
    expect(ringed).to_have_class("bubble edited-by-other")
    assert ringed.evaluate("g => g.style.getPropertyValue('--editor-color')") == color_of("ann")
    expect(doing(bob, "ann")).to_have_text(f"editing bubble {second}")
    expect(doing(ann, "ann")).to_have_text(f"editing bubble {second}")  # the people list shows everyone
    expect(ann.bubble(second)).not_to_have_attribute("data-editor", "ann")  # not one's own ring
    expect(bob.bubble(first)).not_to_have_attribute("data-editor", "ann")

    ann.close_editor()
    expect(doing(bob, "ann")).to_have_count(0, timeout=SHOWN_MS)
    expect(ringed).not_to_have_attribute("data-editor", "ann")

    ann.select(first)
    expect(bob.bubble(first)).to_have_attribute("data-editor", "ann", timeout=SHOWN_MS)
    ann.page.close()
    expect(bob.bubble(first)).not_to_have_attribute("data-editor", "ann", timeout=SHOWN_MS)
    expect(bob.page.locator('[data-testid=person][data-name="ann"]')).to_have_count(0)


def test_a_page_that_reconnects_shows_its_selection_again(healthy_deployment: Deployment,
                                                          browsers: Browsers):
    """A graceful restart of cy's instance ends cy's presence (the others see it go); the
    new connection starts with nothing shown, and the page says its selection again."""
    deployment = healthy_deployment
    map_id = DemoApi.sign_in(deployment.a.url, "cy").create_map("After a reconnect")["id"]
    cy = browsers.page(deployment.a.url, "cy", map_id, "cy on a").open()
    di = browsers.page(deployment.b.url, "di", map_id, "di on b").open()
    bubble = cy.create(250, 250, "kept selected")
    cy.select(bubble)
    expect(doing(di, "cy")).to_have_text(f"editing bubble {bubble}", timeout=SHOWN_MS)
    deployment.a.stop()
    expect(doing(di, "cy")).to_have_count(0, timeout=SHOWN_MS)
    deployment.a.start()
    cy.expect_live(timeout=RECOVERED_MS)
    expect(doing(di, "cy")).to_have_text(f"editing bubble {bubble}", timeout=SHOWN_MS)
