"""bubblemap's page as people use it: paused while offline, zoom, undo/redo, the keyboard,
a phone's width, and the version rule that keeps late or repeated frames from rolling a
bubble back. Real Chromium pages against the demo's real processes (bubblemap_fixtures).
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import WebSocketRoute, expect

from e2e.bubblemap_fixtures import (
    RECOVERED_MS,
    SHOWN_MS,
    Browsers,
    Deployment,
    MapPage,
    assert_converged,
    stored_bubbles,
)
from tests.support.demo_api import DemoApi
from tests.support.polling import wait_until

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
#: The smallest touch target a phone user should have to hit, in CSS pixels.
TOUCH_PX = 40


def _zoom(page: MapPage) -> int:
    return int((page.zoom_level.text_content() or "0").rstrip("%"))


def _rest_bubble(api: DemoApi, map_id: int, predicate: Any, what: str):
    """Wait until the stored map has exactly one bubble and ``predicate`` holds for it."""
    def found():
        stored = list(stored_bubbles(api, map_id).values())
        return stored[0] if len(stored) == 1 and predicate(stored[0]) else None
    return wait_until(found, SHOWN_MS / 1000, what)


def _expect_saved(page: MapPage, version: int) -> None:
    expect(page.page.get_by_test_id("editor-version")).to_have_attribute(
        "data-version", str(version), timeout=SHOWN_MS)


# -- sign-in ---------------------------------------------------------------------------------

def test_sign_in_asks_for_a_password_says_what_a_first_sign_in_does_and_shows_a_refusal(
        deployment: Deployment, browsers: Browsers):
    page = browsers.page(deployment.a.url, None, 0, "newcomer").page
    page.goto(deployment.a.url + "/")
    expect(page.get_by_test_id("signin-password")).to_have_attribute("type", "password")
    expect(page.get_by_test_id("signin-help")).to_contain_text(
        "The first sign-in with a name creates the account; use at least 8 characters")

    body = {"name": "not a <name>", "password": "long enough to pass"}
    page.get_by_test_id("signin-name").fill(body["name"])
    page.get_by_test_id("signin-password").fill(body["password"])
    page.get_by_test_id("signin-submit").click()
    reply = DemoApi(deployment.a.url).call("POST", "/api/1/session", body)
    status, refusal = reply.status, reply.data
    assert status == 400
    expect(page.get_by_test_id("signin-error")).to_contain_text(refusal["message"])
    expect(page.get_by_test_id("signin-form")).to_be_visible()


# -- map list ------------------------------------------------------------------------------

def test_map_cards_show_bubble_count_members_and_when_the_map_last_changed(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Counted", private=True)["id"]
    for name in ("zoe", "bob"):
        ann.invite(map_id, name)
    for n in range(2):
        ann.ok("POST", f"/api/1/maps/{map_id}/bubbles", {"x": n, "y": n, "text": "", "color": "#fde68a"})
    page = browsers.page(deployment.a.url, "ann", map_id, "lister").page
    page.goto(deployment.a.url + "/")
    card = page.locator(f'[data-testid=map-item][data-map-id="{map_id}"]')
    expect(card.get_by_test_id("map-facts")).to_have_text("2 bubbles · with bob and zoe")
    expect(card.get_by_test_id("map-changed")).to_have_text(re.compile(r"changed (just now|1 minute ago)"))


# -- paused while not live -----------------------------------------------------------------

def test_while_its_instance_is_down_the_map_is_dimmed_and_paused_with_a_visible_reason(
        healthy_deployment: Deployment, browsers: Browsers):
    deployment = healthy_deployment
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Power cut")["id"]
    page = browsers.page(deployment.b.url, "ann", map_id, "on b").open()
    first = page.create(200, 150, "made while live")
    expect(page.paused).to_be_hidden()
    page.select(first)

    deployment.b.kill()
    expect(page.state).to_have_attribute("data-state", "reconnecting", timeout=SHOWN_MS)
    expect(page.paused).to_be_visible()
    expect(page.paused).to_contain_text("Reconnecting…")
    expect(page.page.get_by_test_id("canvas-wrap")).to_have_attribute("data-paused", "true")
    for control in ("add-bubble", "editor-save", "editor-delete"):
        expect(page.button(control)).to_be_disabled()
    # force: the canvas says it is disabled (aria-disabled), and a user can double-click anyway.
    page.page.get_by_test_id("canvas").dblclick(position={"x": 500, "y": 400}, force=True)
    expect(page.page.get_by_test_id("bubble")).to_have_count(1)

    deployment.b.start()
    page.expect_live(timeout=RECOVERED_MS)
    expect(page.paused).to_be_hidden()
    expect(page.page.get_by_test_id("canvas-wrap")).to_have_attribute("data-paused", "false")
    for control in ("add-bubble", "editor-save", "editor-delete"):
        expect(page.button(control)).to_be_enabled()
    assert_converged([page], ann, map_id)  # the double-click while paused made nothing


def test_a_page_whose_session_is_gone_says_signed_out_when_it_reconnects(
        healthy_deployment: Deployment, browsers: Browsers):
    deployment = healthy_deployment
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Session ends")["id"]
    page = browsers.page(deployment.b.url, "ann", map_id, "leaving").open()
    page.page.context.clear_cookies()
    deployment.b.kill()
    deployment.b.start()
    expect(page.state).to_have_attribute("data-state", "signed-out", timeout=RECOVERED_MS)
    expect(page.state).to_have_text("signed out")
    overlay = page.page.get_by_test_id("overlay")
    expect(overlay).to_have_attribute("data-reason", "unauthenticated")
    expect(overlay).to_contain_text("You are signed out")
    expect(page.page.get_by_test_id("canvas-wrap")).to_have_attribute("data-paused", "true")
    expect(page.button("add-bubble")).to_be_disabled()


# -- zoom ----------------------------------------------------------------------------------

def test_wheel_zoom_keeps_the_point_under_the_pointer_and_bubbles_their_board_position(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Zoom")["id"]
    anchor = ann.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                    {"x": 300, "y": 200, "text": "anchor", "color": "#bfdbfe"})["id"]
    page = browsers.page(deployment.a.url, "ann", map_id, "zoomer").open()
    expect(page.page.get_by_test_id("pan-hint")).to_be_visible()
    x, y = page.center_of(anchor)
    width = page.bubble(anchor).locator("circle").bounding_box()["width"]

    page.page.mouse.move(x, y)
    page.page.mouse.wheel(0, -400)
    expect(page.zoom_level).not_to_have_text("100%")
    zoom = _zoom(page)
    assert zoom > 100
    moved_x, moved_y = page.center_of(anchor)
    assert (round(moved_x), round(moved_y)) == (round(x), round(y))
    assert page.bubble(anchor).locator("circle").bounding_box()["width"] > width * 1.2
    expect(page.page.get_by_test_id("pan-hint")).to_be_hidden()
    assert_converged([page], ann, map_id)  # zooming moved nothing on the board

    # A double-click 120 px right of the anchor lands 120/zoom board units right of it.
    canvas = page.page.get_by_test_id("canvas").bounding_box()
    page.page.get_by_test_id("canvas").dblclick(position={"x": x + 120 - canvas["x"], "y": y - canvas["y"]})
    expect(page.page.get_by_test_id("bubble")).to_have_count(2, timeout=SHOWN_MS)
    [made] = [b for b in stored_bubbles(ann, map_id).values() if b.id != anchor]
    assert abs(made.x - (300 + 120 * 100 / zoom)) <= 2 and abs(made.y - 200) <= 2

    page.button("zoom-out").click()
    assert _zoom(page) < zoom
    page.button("zoom-reset").click()
    expect(page.zoom_level).to_have_text("100%")
    page.button("zoom-in").click()
    expect(page.zoom_level).to_have_text("125%")


def test_a_two_finger_pinch_zooms_on_a_touch_screen(deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Pinch")["id"]
    page = browsers.page(deployment.a.url, "ann", map_id, "pincher", **PHONE).open()
    box = page.page.get_by_test_id("canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.page.context.new_cdp_session(page.page)

    def touch(kind: str, spread: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": cx - spread, "y": cy, "id": 1},
                                                 {"x": cx + spread, "y": cy, "id": 2}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 30)
    for spread in (45, 60, 75, 90):
        touch("touchMove", spread)
    touch("touchEnd", 0)
    expect(page.zoom_level).not_to_have_text("100%")
    assert _zoom(page) >= 250  # fingers three times as far apart: about 300%


# -- undo / redo ---------------------------------------------------------------------------

def test_undo_and_redo_round_trip_own_changes_through_the_server_for_every_page(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Undo")["id"]
    mine = browsers.page(deployment.a.url, "ann", map_id, "mine").open()
    theirs = browsers.page(deployment.b.url, "bob", map_id, "theirs").open()
    bubble = mine.create(200, 150, "first")
    mine.edit(bubble, "second")
    mine.move(bubble, 80, 40)
    edited = stored_bubbles(ann, map_id)[bubble]
    keys = mine.page.keyboard

    keys.press("Control+z")  # the move
    back = _rest_bubble(ann, map_id, lambda b: b.version == 5, "the move undone")
    assert (back.text, back.x, back.y) == ("second", 200, 150)
    keys.press("Control+z")  # the text
    _rest_bubble(ann, map_id, lambda b: b.version == 6 and b.text == "first", "the edit undone")
    expect(theirs.bubble(bubble)).to_contain_text("first", timeout=SHOWN_MS)
    keys.press("Control+Shift+z")  # the text again
    _rest_bubble(ann, map_id, lambda b: b.version == 7 and b.text == "second", "the edit redone")
    mine.button("redo").click()  # the move again
    _rest_bubble(ann, map_id, lambda b: (b.version, b.x, b.y) == (8, edited.x, edited.y), "the move redone")
    expect(mine.button("redo")).to_be_disabled()

    for _ in range(4):  # the move, both texts, then the creation itself
        mine.button("undo").click()
        expect(mine.button("redo")).to_be_enabled()
    wait_until(lambda: stored_bubbles(ann, map_id) == {}, SHOWN_MS / 1000, "the creation undone")
    expect(theirs.bubble(bubble)).to_have_count(0, timeout=SHOWN_MS)
    expect(mine.button("undo")).to_be_disabled()

    for _ in range(4):
        keys.press("Control+Shift+z")
    again = _rest_bubble(ann, map_id, lambda b: b.version == 4, "everything redone")
    assert again.id > bubble  # ids are never reused: a re-created bubble is a new one
    assert (again.text, again.x, again.y) == ("second", edited.x, edited.y)
    assert_converged([mine, theirs], ann, map_id)
    mine.expect_no_error()


def test_an_undo_over_a_change_the_page_has_not_seen_yet_is_a_conflict_and_shows_theirs(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Undo meets a conflict")["id"]
    mine = browsers.page(deployment.a.url, "ann", map_id, "mine")
    held: list[str] = []

    def hold_updates(route: WebSocketRoute) -> None:
        # Updates broadcast to this page are held back (replies are not): its copy of the
        # bubble is one version behind the server's, as on a slow connection.
        server = route.connect_to_server()
        route.on_message(server.send)
        server.on_message(lambda message: held.append(message)
                          if isinstance(message, str) and '"bubble-updated"' in message
                          else route.send(message))

    mine.page.route_web_socket(re.compile(r".*/api/1/ws/.*"), hold_updates)
    mine.open()
    theirs = browsers.page(deployment.b.url, "bob", map_id, "theirs").open()
    bubble = mine.create(200, 150, "mine")
    expect(theirs.bubble(bubble)).to_contain_text("mine", timeout=SHOWN_MS)
    theirs.edit(bubble, "theirs")
    wait_until(lambda: held, SHOWN_MS / 1000, "their update reached (and was held for) my page")

    mine.page.keyboard.press("Control+z")
    expect(mine.page.get_by_test_id("toast-warn")).to_contain_text("Not undone", timeout=SHOWN_MS)
    expect(mine.bubble(bubble)).to_contain_text("theirs")
    assert stored_bubbles(ann, map_id)[bubble].text == "theirs"
    assert_converged([mine, theirs], ann, map_id)


def test_deleting_a_bubble_offers_an_undo_that_brings_it_back(deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Oops")["id"]
    page = browsers.page(deployment.a.url, "ann", map_id, "oops").open()
    bubble = page.create(250, 200, "keep me")
    page.delete(bubble)
    page.page.get_by_role("button", name="Undo").last.click()
    back = _rest_bubble(ann, map_id, lambda b: b.text == "keep me", "the bubble re-created")
    assert (back.x, back.y) == (250, 200)
    assert_converged([page], ann, map_id)


# -- keyboard ------------------------------------------------------------------------------

def test_the_keyboard_alone_creates_edits_moves_and_deletes_a_bubble(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Keys")["id"]
    page = browsers.page(deployment.a.url, "ann", map_id, "keys").open()
    other = browsers.page(deployment.b.url, "bob", map_id, "watcher").open()
    keys = page.page.keyboard
    editor_text = page.page.get_by_test_id("editor-text")

    page.button("add-bubble").focus()
    keys.press("Enter")
    expect(editor_text).to_be_focused(timeout=SHOWN_MS)
    keys.type("typed idea")
    keys.press("Control+Enter")
    _expect_saved(page, version=2)
    keys.press("Escape")
    expect(page.page.get_by_test_id("editor")).to_be_hidden()
    bubble = page.focused_bubble()
    assert bubble is not None, "Escape gives the focus back to the bubble"
    start = stored_bubbles(ann, map_id)[bubble]

    for _ in range(3):
        keys.press("ArrowRight")
    keys.press("Shift+ArrowDown")
    _rest_bubble(ann, map_id, lambda b: (b.x, b.y) == (start.x + 30, start.y + 50), "moved by arrows")

    page.button("zoom-in").focus()
    keys.press("Tab")
    assert page.focused_bubble() == bubble, "Tab goes from the toolbar to the bubbles"
    keys.press("Enter")
    expect(editor_text).to_be_focused()
    editor_text.press("Control+a")
    keys.type("retyped")
    keys.press("Control+Enter")
    expect(other.bubble(bubble)).to_contain_text("retyped", timeout=SHOWN_MS)
    keys.press("Escape")
    assert page.focused_bubble() == bubble

    keys.press("Delete")
    expect(other.bubble(bubble)).to_have_count(0, timeout=SHOWN_MS)
    assert stored_bubbles(ann, map_id) == {}
    # The page removes the bubble, and gives its focus to the canvas, when its own copy of
    # the deletion arrives, which may be after the other page's and the API's.
    expect(page.page.locator("#canvas")).to_be_focused(timeout=SHOWN_MS)  # the focus is not lost
    assert_converged([page, other], ann, map_id)


# -- phone width ---------------------------------------------------------------------------

#: Every visible control whose box (or its label's) is smaller than a finger, and whether
#: the page scrolls sideways.
_PHONE_CHECK = """min => {
  const small = [];
  for (const node of document.querySelectorAll("button, a, input, textarea, select, [role=button]")) {
    const target = node.closest("label") || node;
    const box = target.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(node).visibility === "hidden") continue;
    if (box.width < min || box.height < min) {
      const name = node.id || node.dataset.testid || node.textContent.trim().slice(0, 20);
      small.push(`${node.tagName.toLowerCase()}#${name} ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  const root = document.documentElement;
  return {small, overflow: root.scrollWidth - root.clientWidth};
}"""


def test_at_phone_width_nothing_overflows_and_every_control_is_a_finger_wide(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    title = "A rather long map title that must not push the page sideways"
    map_id = ann.create_map(title, private=True)["id"]
    ann.invite(map_id, "bob")
    page = browsers.page(deployment.a.url, "ann", map_id, "phone", **PHONE)

    page.page.goto(deployment.a.url + "/")
    expect(page.page.locator("[data-testid=map-item]").first).to_be_visible(timeout=SHOWN_MS)
    assert page.page.evaluate(_PHONE_CHECK, TOUCH_PX) == {"small": [], "overflow": 0}

    page.open()
    assert page.page.evaluate(_PHONE_CHECK, TOUCH_PX) == {"small": [], "overflow": 0}
    page.button("add-bubble").tap()
    expect(page.page.get_by_test_id("editor")).to_be_visible(timeout=SHOWN_MS)
    page.page.get_by_test_id("editor-text").fill("from a phone")
    page.button("editor-save").tap()
    _expect_saved(page, version=2)
    assert page.page.evaluate(_PHONE_CHECK, TOUCH_PX) == {"small": [], "overflow": 0}
    assert_converged([page], ann, map_id)


# -- the version rule ----------------------------------------------------------------------

def test_the_version_rule_on_its_own(deployment: Deployment, browsers: Browsers):
    page = browsers.page(deployment.a.url, "ann", 0, "rule").page
    page.goto(deployment.a.url + "/")
    verdicts = page.evaluate("""async () => {
      const { accepts, BubbleState } = await import("/static/bubbles.js");
      const v = (id, version, text = "") => ({ id, version, text });
      const none = new Set();
      const state = new BubbleState();
      state.put(v(1, 3, "newest"));
      state.put(v(2, 1));
      state.remove(2);
      state.replace([v(1, 2, "older"), v(2, 1), v(3, 1, "new")]);
      // A snapshot read when ids up to 5 were given out: 4 (lacking) was deleted before it,
      // 6 (created since) is kept, and nothing late brings 4 back.
      const read = new BubbleState();
      read.put(v(4, 1));
      read.put(v(6, 1, "created since"));
      read.replace([v(5, 1)], 5);
      const late = read.put(v(4, 7));
      return {
        lateAfterSnapshot: late,
        readSnapshot: [...read.values()].map((b) => [b.id, b.version]).sort((x, y) => x[0] - y[0]),
        first: accepts(undefined, v(1, 1), none),
        newer: accepts(v(1, 3), v(1, 4), none),
        same: accepts(v(1, 3), v(1, 3), none),
        older: accepts(v(1, 3), v(1, 2), none),
        deleted: accepts(undefined, v(1, 9), new Set([1])),
        afterSnapshot: [...state.values()].map((b) => [b.id, b.version, b.text]),
      };
    }""")
    assert verdicts == {"lateAfterSnapshot": False, "readSnapshot": [[5, 1], [6, 1]],
                        "first": True, "newer": True, "same": False, "older": False, "deleted": False,
                        "afterSnapshot": [[1, 3, "newest"], [3, 1, "new"]]}


def test_stale_and_repeated_frames_do_not_roll_a_bubble_back_or_bring_a_deleted_one_back(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Late frames")["id"]
    page = browsers.page(deployment.a.url, "ann", map_id, "late")
    routes: list[WebSocketRoute] = []

    def through(route: WebSocketRoute) -> None:
        # The page's real connection, passed through; the test may add frames to it, as a
        # late or repeated publication (an outbox re-publishing) would.
        route.connect_to_server()
        routes.append(route)

    page.page.route_web_socket(re.compile(r".*/api/1/ws/.*"), through)
    page.open()
    kept = page.create(200, 150, "fresh")
    page.edit(kept, "newest")
    gone = page.create(450, 250, "to delete")
    page.delete(gone)
    stored = stored_bubbles(ann, map_id)
    newest = stored[kept]

    def frame(type: str, data: Any) -> None:
        routes[-1].send(json.dumps({"type": type, "data": data}))

    def bubble(bubble_id: int, version: int, text: str) -> dict[str, Any]:
        return {"id": bubble_id, "x": 1, "y": 1, "text": text, "color": "#fecaca", "version": version}

    frame("bubble-updated", bubble(kept, 2, "stale"))
    frame("bubble-updated", bubble(kept, newest.version, "same version, other text"))
    frame("bubble-created", bubble(gone, 1, "to delete"))
    frame("bubble-updated", bubble(gone, 9, "a late update of a deleted bubble"))
    frame("snapshot", {"map": ann.ok("GET", f"/api/1/maps/{map_id}")["map"],
                       "bubbles": [bubble(kept, 2, "stale"), bubble(gone, 1, "to delete")]})
    # A real change after them: once it shows, the page has handled every frame before it.
    marker = ann.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                    {"x": 300, "y": 300, "text": "marker", "color": "#bbf7d0"})["id"]
    expect(page.bubble(marker)).to_have_count(1, timeout=SHOWN_MS)

    assert page.bubbles()[kept] == newest
    expect(page.bubble(gone)).to_have_count(0)
    assert_converged([page], ann, map_id)
