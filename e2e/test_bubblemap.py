"""bubblemap as users see it: Chromium pages on two instances behind nginx, one Redis.

Every scenario opens its own map, so tests sharing the module's deployment do not see each
other, and ends by checking that every open page draws what ``GET /api/1/maps/<id>`` says.
A test that kills a part takes ``healthy_deployment``, which brings it back afterwards.
Waits are bounded: ``expect`` on the page, or a polling deadline on server-side state; the
only plain wait is a window in which something must *not* happen (retries after a denial).

The crash scenario saves first and kills the instance right after the change is stored:
whether or not the instance published it, the outbox (sanic_wsns.outbox) makes the other
instance publish it, so pages staying on the other instance see it too. More faults, and
pages that must equal the database after each, are in test_convergence.py.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from e2e.bubblemap_fixtures import (
    RECOVERED_MS,
    SHOWN_MS,
    AccessLine,
    Browsers,
    Deployment,
    MapPage,
    assert_converged,
    clients_of,
    map_path,
    move_round_robin,
    refused,
    stored_bubbles,
)
from tests.support.demo_api import DemoApi
from tests.support.polling import pumping, wait_until

#: Long enough for a client that ignored a denial to have retried several times
#: (its first backoff is about 0.5 s).
QUIET_S = 3.0


def test_pinned_pages_on_two_instances_follow_every_change_and_survive_a_tab_closing(
        deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Seed table")["id"]
    page_a = browsers.page(deployment.a.url, "ann", map_id, "A").open()
    page_b = browsers.page(deployment.b.url, "bob", map_id, "B").open()

    first = page_a.create(200, 150, "first idea")
    expect(page_b.bubble(first)).to_have_attribute("data-version", "2", timeout=SHOWN_MS)
    expect(page_b.bubble(first)).to_contain_text("first idea")

    page_a.move(first, 120, 60)
    expect(page_b.bubble(first)).to_have_attribute("data-version", "3", timeout=SHOWN_MS)
    assert page_b.bubbles()[first] == page_a.bubbles()[first]

    page_a.edit(first, "first idea, edited", swatch=2)
    expect(page_b.bubble(first)).to_contain_text("first idea, edited", timeout=SHOWN_MS)
    assert page_b.bubbles()[first] == page_a.bubbles()[first]

    second = page_a.create(500, 300, "to be deleted")
    expect(page_b.bubble(second)).to_have_count(1, timeout=SHOWN_MS)
    page_a.delete(second)
    expect(page_b.bubble(second)).to_have_count(0, timeout=SHOWN_MS)

    page_b.page.close()
    wait_until(lambda: map_path(map_id) not in admin_api["b"].stats()["namespaces"], 10,
               f"instance b dropped {map_path(map_id)}")

    third = page_a.create(350, 400, "made while B is away")
    page_a.edit(first, "edited while B is away")
    page_a.expect_no_error()
    expect(page_a.state).to_have_attribute("data-state", "live")

    page_b = MapPage(page_b.page.context.new_page(), deployment.b.url, map_id, "B again").open()
    assert_converged([page_a, page_b], ann, map_id)
    assert third in page_b.bubbles()

    page_a.move(third, -80, 40)
    expect(page_b.bubble(third)).to_have_attribute("data-version", "3", timeout=SHOWN_MS)
    assert_converged([page_a, page_b], ann, map_id)


def test_balanced_pages_reloaded_through_nginx_converge_with_rest_and_websocket_split(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.nginx.url, "ann")
    map_id = ann.create_map("Through nginx")["id"]
    pages = [browsers.page(deployment.nginx.url, user, map_id, label).open()
             for user, label in (("ann", "one"), ("bob", "two"))]
    bubbles = [pages[0].create(150, 150, "from one"), pages[1].create(450, 250, "from two")]

    for turn in (1, 2, 3):
        for n, page in enumerate(pages):
            page.reload()
            other = pages[1 - n]
            other.edit(bubbles[n], f"round {turn}: {other.label} edits {page.label}'s bubble")
            expect(page.bubble(bubbles[n])).to_contain_text(f"round {turn}:", timeout=SHOWN_MS)
        assert_converged(pages, ann, map_id)
    # Each reload closed an upgrade, so nginx has logged it (a WebSocket is logged at its end).
    assert _rest_then_websocket_on_another_instance(deployment, browsers, pages, map_id) >= 1


def _rest_then_websocket_on_another_instance(deployment: Deployment, browsers: Browsers,
                                            pages: list[MapPage], map_id: int) -> int:
    """How many upgrades (already closed, so logged) of these pages went to another instance
    than the page's REST call just before it."""
    count = 0
    upstreams = {f"127.0.0.1:{server.port}" for server in deployment.instances.values()}
    for page in pages:
        mine = sorted((line for line in deployment.nginx.log_lines()
                       if line.agent == browsers.agent(page.label)), key=lambda line: line.start)
        last_rest: AccessLine | None = None
        for line in mine:
            if line.path == map_path(map_id) and line.status == 101:
                if last_rest is not None and last_rest.upstream != line.upstream:
                    assert {last_rest.upstream, line.upstream} <= upstreams
                    count += 1
            elif line.path.startswith("/api/1/"):
                last_rest = line
    return count


def test_a_private_map_shows_no_access_to_a_non_member_who_does_not_retry(
        deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    ann = DemoApi.sign_in(deployment.b.url, "ann")
    map_id = ann.create_map("Private plans", private=True)["id"]
    owner = browsers.page(deployment.b.url, "ann", map_id, "owner").open()
    owner.create(300, 200, "only for members")

    def refusals() -> int:
        return refused(admin_api["a"].stats()) + refused(admin_api["b"].stats())

    before = refusals()
    outsider = browsers.page(deployment.nginx.url, "mallory", map_id, "outsider").open(live=False)
    expect(outsider.state).to_have_attribute("data-state", "denied", timeout=SHOWN_MS)
    expect(outsider.state).to_have_text("no access")
    expect(outsider.page.get_by_test_id("overlay")).to_have_attribute("data-reason", "forbidden")
    wait_until(lambda: refusals() == before + 1, 5, "one refused upgrade")
    time.sleep(QUIET_S)  # a window in which a retry storm would show
    assert refusals() == before + 1
    upgrades = [line for line in deployment.nginx.log_lines()
                if line.agent == browsers.agent("outsider") and line.path == map_path(map_id)]
    assert len(upgrades) == 1
    assert outsider.bubbles() == {}
    assert DemoApi.sign_in(deployment.nginx.url, "mallory").call("GET", f"/api/1/maps/{map_id}").status == 403
    assert_converged([owner], ann, map_id)


def test_a_map_deleted_by_its_owner_shows_map_deleted_on_every_open_page_on_both_instances(
        deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Short-lived")["id"]
    owner = browsers.page(deployment.a.url, "ann", map_id, "owner").open()
    viewers = [browsers.page(deployment.a.url, "bob", map_id, "bob on a").open(),
               browsers.page(deployment.b.url, "carol", map_id, "carol on b").open(),
               browsers.page(deployment.b.url, "ann", map_id, "ann on b").open()]
    owner.create(250, 250, "soon gone")
    assert_converged([owner, *viewers], ann, map_id)

    delete = owner.page.get_by_test_id("delete-map")
    delete.click()
    delete.click()
    expect(owner.page.get_by_test_id("map-list")).to_be_visible(timeout=SHOWN_MS)
    expect(owner.page.locator(f'[data-testid=map-item][data-map-id="{map_id}"]')).to_have_count(0)
    for viewer in viewers:
        expect(viewer.state).to_have_attribute("data-state", "deleted", timeout=SHOWN_MS)
        expect(viewer.state).to_have_text("map deleted")
        expect(viewer.page.get_by_test_id("overlay")).to_have_attribute("data-reason", "removed")
    assert ann.call("GET", f"/api/1/maps/{map_id}").status == 404
    for name in ("a", "b"):
        wait_until(lambda name=name: map_path(map_id) not in admin_api[name].stats()["namespaces"], 10,
                   f"instance {name} dropped the deleted map's namespace")


def test_pages_of_a_killed_instance_reconnect_through_nginx_and_converge(
        healthy_deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    deployment = healthy_deployment
    ann = DemoApi.sign_in(deployment.nginx.url, "ann")
    map_id = ann.create_map("Survives a crash")["id"]
    pages = [browsers.page(deployment.nginx.url, user, map_id, label).open()
             for user, label in (("ann", "one"), ("bob", "two"))]
    bubbles = [pages[0].create(150, 150, "one's"), pages[1].create(450, 250, "two's")]
    _until_instance_b_hosts_a_page(deployment, admin_api, pages, map_id)

    # Saved first, killed as soon as both saves are stored: b may have died before
    # publishing them; the outbox makes a publish them instead.
    texts = {bubble: f"{page.label} saves, then b dies" for page, bubble in zip(pages, bubbles, strict=True)}
    for page, bubble in zip(pages, bubbles, strict=True):
        page.type_text(bubble, texts[bubble])
    for page in pages:
        page.click_save()
    wait_until(lambda: {b: stored_bubbles(ann, map_id)[b].text for b in bubbles} == texts, SHOWN_MS / 1000,
               "both saves stored")
    deployment.b.kill()

    wait_until(lambda: clients_of(admin_api["a"].stats(), map_id) == 2, RECOVERED_MS / 1000,
               "both pages connected to instance a")
    for page in pages:
        page.expect_live(timeout=RECOVERED_MS)
        page.close_editor()
    assert_converged(pages, ann, map_id, timeout_s=RECOVERED_MS / 1000)
    assert {b.id: b.text for b in pages[0].bubbles().values()} == texts
    third = pages[0].create(300, 420, "one creates after the crash")
    expect(pages[1].bubble(third)).to_contain_text("one creates after the crash", timeout=SHOWN_MS)
    pages[1].move(third, 90, -60)
    expect(pages[0].bubble(third)).to_have_attribute("data-version", "3", timeout=SHOWN_MS)
    assert_converged(pages, ann, map_id)


#: Reloads before giving up on placing a page's socket on instance b.
RELOADS = 10


def _until_instance_b_hosts_a_page(deployment: Deployment, admin_api: dict[str, DemoApi],
                                   pages: list[MapPage], map_id: int) -> None:
    """Round-robin placed the pages' WebSockets; reload one until instance b has one.

    A page load makes about the same number of proxied requests each time (its token
    fetches and two sockets, in an order the browser picks), so reloading alone could keep
    landing on the same instance: ``move_round_robin`` first.
    """
    for attempt in range(RELOADS):
        if clients_of(admin_api["b"].stats(), map_id) > 0:
            return
        move_round_robin(deployment.nginx.url, attempt)
        pages[attempt % len(pages)].reload()
        wait_until(lambda: clients_of(admin_api["a"].stats(), map_id)
                   + clients_of(admin_api["b"].stats(), map_id) == len(pages), 10,
                   "the reloaded page's old connection closed")
    raise AssertionError(f"no page's WebSocket landed on instance b after {RELOADS} reloads")


def test_a_redis_restart_mid_editing_resyncs_pages_and_they_converge(
        healthy_deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    deployment = healthy_deployment
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Broker outage")["id"]
    page_a = browsers.page(deployment.a.url, "ann", map_id, "A").open()
    page_b = browsers.page(deployment.b.url, "bob", map_id, "B").open()
    first = page_a.create(200, 200, "before the outage")
    expect(page_b.bubble(first)).to_have_attribute("data-version", "2", timeout=SHOWN_MS)

    deployment.redis.kill()
    outage = time.monotonic()
    page_a.edit(first, "edited on a while redis is down")
    second = page_b.create(500, 300, "created on b while redis is down")
    deployment.redis.start()

    assert_converged([page_a, page_b], ann, map_id, timeout_s=RECOVERED_MS / 1000)
    for page in (page_a, page_b):
        wait_until(lambda page=page: any(t > outage for t in page.refetches), RECOVERED_MS / 1000,
                   f"{page!r} re-fetched the map on resync", pause=pumping(page.page))
    for page in (page_a, page_b):
        page.expect_no_error()
        expect(page.state).to_have_attribute("data-state", "live")
    page_b.edit(second, "after the restart, live again")
    expect(page_a.bubble(second)).to_contain_text("after the restart, live again", timeout=SHOWN_MS)
    assert_converged([page_a, page_b], ann, map_id)
    for name in ("a", "b"):
        assert admin_api[name].stats()["broker"]["connected"] is True


def test_simultaneous_edits_of_one_bubble_one_wins_and_the_other_sees_the_conflict(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Contested")["id"]
    page_a = browsers.page(deployment.a.url, "ann", map_id, "A").open()
    page_b = browsers.page(deployment.b.url, "bob", map_id, "B").open()
    contested = page_a.create(300, 250, "original")
    expect(page_b.bubble(contested)).to_have_attribute("data-version", "2", timeout=SHOWN_MS)

    texts = {page_a: "A's wording", page_b: "B's wording"}
    for page, text in texts.items():
        page.type_text(contested, text)
    for page in texts:
        page.click_save()

    wait_until(lambda: stored_bubbles(ann, map_id)[contested].version == 3, 10, "one save stored")
    stored = stored_bubbles(ann, map_id)[contested]
    [winner] = [page for page, text in texts.items() if text == stored.text]
    [loser] = [page for page in texts if page is not winner]
    conflict = loser.page.get_by_test_id("conflict")
    expect(conflict).to_be_visible(timeout=SHOWN_MS)
    expect(conflict).to_contain_text(stored.text)
    expect(loser.page.get_by_test_id("editor-version")).to_have_attribute("data-version", "3")
    expect(winner.page.get_by_test_id("conflict")).to_be_hidden()
    expect(winner.page.get_by_test_id("editor-version")).to_have_attribute("data-version", "3")

    loser.page.get_by_test_id("conflict-keep-theirs").click()
    expect(conflict).to_be_hidden()
    expect(loser.page.get_by_test_id("editor-text")).to_have_value(stored.text)
    assert stored_bubbles(ann, map_id)[contested] == stored
    assert_converged([page_a, page_b], ann, map_id)


def test_a_rest_created_bubble_on_an_instance_without_pages_reaches_pages_on_the_other(
        deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Fed over REST")["id"]
    pages = [browsers.page(deployment.a.url, user, map_id, label).open()
             for user, label in (("ann", "ann on a"), ("bob", "bob on a"))]
    gone = browsers.page(deployment.b.url, "carol", map_id, "carol on b").open()
    gone.page.close()
    wait_until(lambda: map_path(map_id) not in admin_api["b"].stats()["namespaces"], 10,
               "instance b has no page of the map left")

    bubble = ann.on(deployment.b.url).ok("POST", f"/api/1/maps/{map_id}/bubbles",
                                         {"x": 320, "y": 180, "text": "posted to b", "color": "#bbf7d0"})
    for page in pages:
        expect(page.bubble(bubble["id"])).to_contain_text("posted to b", timeout=SHOWN_MS)
    assert map_path(map_id) not in admin_api["b"].stats()["namespaces"]
    assert_converged(pages, ann, map_id)
