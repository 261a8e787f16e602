"""A stored change always reaches every page (core idea 11): the outbox and the page's
merge rule, checked with real Chromium pages on two instances, one Redis, nginx.

Pages write through their own connection (``bubblemap.view.request``, the code path the
editor uses) so that a scenario can make hundreds of acknowledged writes in seconds; the
check after every fault is ``assert_converged``: each page draws exactly what
``GET /api/1/maps/<id>`` returns.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from typing import Any

from playwright.sync_api import WebSocketRoute, expect

from demo_app.models import Bubble, BubbleDeleted
from e2e.bubblemap_fixtures import (
    RECOVERED_MS,
    SHOWN_MS,
    Browsers,
    Deployment,
    MapPage,
    assert_converged,
    clients_of,
    map_path,
    move_round_robin,
    stored_bubbles,
)
from sanic_wsns.outbox import sqlite as outbox
from tests.support.demo_api import DemoApi
from tests.support.polling import wait_until

#: Core idea 11's bound: after a fault, every page equals the database within this.
CONVERGED_S = 10.0
#: A Redis stall as a fork for a snapshot causes it (ms).
STALL_MS = 2500

#: Starts a write loop in a page: update a random bubble of the map (at the version the page
#: has) until ``window.writing`` is false; every acknowledged reply is kept in ``window.acks``.
_WRITE_LOOP = """label => {
  window.acks = [];
  window.writing = true;
  const view = window.bubblemap.view;
  (async () => {
    for (let n = 1; window.writing; n++) {
      const bubbles = [...view.state.values()];
      const bubble = bubbles[Math.floor(Math.random() * bubbles.length)];
      try {
        const reply = await view.connection.request("bubble-update",
          { id: bubble.id, version: bubble.version, text: `${label} #${n}` });
        view.state.put(reply);
        view.render();
        window.acks.push(reply);
      } catch (error) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  })();
}"""


def shared_db(deployment: Deployment) -> str:
    return str(deployment.dir / "shared.db")


def create(api: DemoApi, map_id: int, n: int) -> list[int]:
    return [api.ok("POST", f"/api/1/maps/{map_id}/bubbles",
                   {"x": 80 + 90 * (i % 8), "y": 80 + 90 * (i // 8), "text": f"seed {i}",
                    "color": "#bfdbfe"})["id"] for i in range(n)]


def acks(page: MapPage) -> list[dict[str, Any]]:
    return page.page.evaluate("window.acks || []")


def assert_no_acknowledged_write_lost(acknowledged: list[dict[str, Any]], api: DemoApi, map_id: int) -> None:
    """Every reply a page got is in the database, or a later version of its bubble is."""
    stored = stored_bubbles(api, map_id)
    for reply in acknowledged:
        bubble = stored[reply["id"]]
        assert bubble.version >= reply["version"], f"{reply} lost: stored {bubble}"
        if bubble.version == reply["version"]:
            assert bubble.text == reply["text"], f"{reply} lost: stored {bubble}"


# -- the page's rule ------------------------------------------------------------------------

def test_a_page_keeps_an_update_that_reached_it_before_its_older_snapshot(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Snapshot race")["id"]
    [bubble] = create(ann, map_id, 1)
    held: list[str] = []
    released: list[bool] = []

    def hold_the_snapshot_until_an_update_passed(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)

        def to_page(message: str | bytes) -> None:
            kind = json.loads(message)["type"]
            if kind == "snapshot" and not released:
                held.append(str(message))
                return
            ws.send(message)
            if kind == "bubble-updated" and held and not released:
                released.append(True)
                ws.send(held[0])
        server.on_message(to_page)

    late = browsers.page(deployment.a.url, "bob", map_id, "late")
    late.page.route_web_socket(f"**{map_path(map_id)}", hold_the_snapshot_until_an_update_passed)
    late.open()
    expect(late.bubble(bubble)).to_have_count(0)  # its snapshot is held
    assert held, "the snapshot was not held"

    writer = browsers.page(deployment.b.url, "ann", map_id, "writer").open()
    writer.edit(bubble, "changed while the snapshot was on its way")
    expect(late.bubble(bubble)).to_have_attribute("data-version", "2", timeout=SHOWN_MS)
    assert released
    assert_converged([late, writer], ann, map_id)


def test_a_create_whose_reply_was_lost_with_the_connection_makes_exactly_one_bubble(
        deployment: Deployment, browsers: Browsers):
    """The connection drops after the server created the bubble and before its reply reached
    the page: the browser client sends the request again, with its key, once it is back,
    and gets the first answer. One bubble, not two (issue 25)."""
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Lost reply")["id"]
    lost: list[str] = []

    def lose_the_first_reply(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)

        def to_page(message: str | bytes) -> None:
            if not lost and json.loads(message)["type"] == "reply":
                lost.append(str(message))  # the handler ran; its reply never arrives
                ws.close(code=1012, reason="network lost")
                server.close()
                return
            ws.send(message)
        server.on_message(to_page)

    page = browsers.page(deployment.a.url, "ann", map_id, "lossy")
    page.page.route_web_socket(f"**{map_path(map_id)}", lose_the_first_reply)
    page.open()
    reply = page.page.evaluate("() => window.bubblemap.view.request('bubble-create', "
                               "{x: 120, y: 140, text: 'only once', color: '#fde68a'})")
    assert lost, "the first reply was not lost"
    assert json.loads(lost[0])["data"]["id"] == reply["id"]
    assert [bubble.text for bubble in stored_bubbles(ann, map_id).values()] == ["only once"]
    expect(page.page.locator("[data-testid=bubble]")).to_have_count(1, timeout=SHOWN_MS)


def test_late_and_repeated_frames_change_nothing_on_any_page(
        deployment: Deployment, browsers: Browsers):
    ann = DemoApi.sign_in(deployment.a.url, "ann")
    map_id = ann.create_map("Late frames")["id"]
    kept, gone = create(ann, map_id, 2)
    pages = [browsers.page(deployment.a.url, "ann", map_id, "A").open(),
             browsers.page(deployment.b.url, "bob", map_id, "B").open()]
    pages[0].edit(kept, "kept, version 2")
    pages[1].delete(gone)
    stale = stored_bubbles(ann, map_id)[kept]
    opened_after = browsers.page(deployment.nginx.url, "carol", map_id, "after").open()
    pages.append(opened_after)
    assert_converged(pages, ann, map_id)

    # Frames a sweeper publishes late, as an instance that died before publishing leaves
    # them: an old version of a bubble, and the creation and an update of a deleted one.
    path = map_path(map_id)
    with sqlite3.connect(shared_db(deployment), isolation_level=None) as db:
        db.execute("BEGIN IMMEDIATE")
        outbox.record(db, path, "bubble-updated", Bubble(kept, stale.x, stale.y, "old", "#ffffff", 1))
        outbox.record(db, path, "bubble-created", Bubble(gone, 1.0, 1.0, "back?", "#ffffff", 1))
        outbox.record(db, path, "bubble-updated", Bubble(gone, 1.0, 1.0, "back!", "#ffffff", 9))
        outbox.record(db, path, "bubble-deleted", BubbleDeleted(kept + gone + 1000))
        db.execute("UPDATE outbox SET created = created - 60 WHERE published_at IS NULL")
        db.execute("COMMIT")
    # A real change after them: once every page shows it, the late frames were applied.
    marker = pages[0].create(500, 300, "after the late frames")
    for page in pages:
        expect(page.bubble(marker)).to_have_count(1, timeout=SHOWN_MS)
    wait_until(lambda: _unpublished(deployment) == 0, CONVERGED_S, "the late frames published")
    for page in pages:
        expect(page.bubble(gone)).to_have_count(0)
        expect(page.bubble(kept)).to_have_attribute("data-version", "2")
    assert_converged(pages, ann, map_id)


def _unpublished(deployment: Deployment) -> int:
    with sqlite3.connect(shared_db(deployment)) as db:
        return db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]


# -- faults ---------------------------------------------------------------------------------

def test_redis_stalls_and_the_instance_pages_write_to_dies_then_every_page_equals_the_database(
        healthy_deployment: Deployment, browsers: Browsers):
    deployment = healthy_deployment
    ann = DemoApi.sign_in(deployment.b.url, "ann")
    map_id = ann.create_map("Stall and crash")["id"]
    create(ann, map_id, 12)
    writers = [browsers.page(deployment.a.url, f"writer{n}", map_id, f"writer {n} on a").open()
               for n in (1, 2)]
    readers = [browsers.page(deployment.b.url, f"reader{n}", map_id, f"reader {n} on b").open()
               for n in (1, 2)]
    assert_converged(writers + readers, ann, map_id)

    for page in writers:
        page.page.evaluate(_WRITE_LOOP, page.label)
    wait_until(lambda: all(len(acks(page)) >= 5 for page in writers), CONVERGED_S, "writes before the stall")
    before_stall = sum(len(acks(page)) for page in writers)
    deployment.redis.cli("CLIENT", "PAUSE", str(STALL_MS), "ALL")
    stalled = time.monotonic()
    wait_until(lambda: sum(len(acks(page)) for page in writers) >= before_stall + 10, STALL_MS / 1000,
               "writes acknowledged during the stall")
    time.sleep(max(0.0, 1.0 - (time.monotonic() - stalled)))  # well inside the stall
    deployment.a.kill()
    acknowledged = [reply for page in writers for reply in acks(page)]
    for page in writers:
        page.page.evaluate("window.writing = false")
    assert len(acknowledged) > before_stall

    assert_converged(readers, ann, map_id, timeout_s=CONVERGED_S)
    assert_no_acknowledged_write_lost(acknowledged, ann, map_id)

    deployment.heal()  # the writers' pages are pinned to a: they come back with it
    for page in writers:
        page.expect_live(timeout=RECOVERED_MS)
    assert_converged(writers + readers, ann, map_id, timeout_s=CONVERGED_S)


# -- a long random run ------------------------------------------------------------------------

#: Starts a batch of operations in a page (``window.batch``, awaited later): each a create,
#: update or delete of a random bubble of the page's own state, through the page's request
#: path (``view.request``), one after the other; the results are the replies or error codes.
_START_BATCH = """([label, rolls]) => {
  window.batch = (async () => {
    const results = [];
    for (const [n, [roll, r1, r2]] of rolls.entries()) {
      const view = window.bubblemap?.view;
      if (!view || !view.connection.live) continue;
      const ids = [...view.state.values()].map((b) => b.id).sort((a, b) => a - b);
      const kind = ids.length < 4 ? "create" : ids.length > 24 ? "delete"
        : roll < 0.3 ? "create" : roll < 0.9 ? "update" : "delete";
      const bubble = view.state.get(ids[Math.floor(r1 * ids.length)]);
      let type = "bubble-create";
      const text = `${label} ${n}`;
      let data = { x: Math.round(r1 * 900), y: Math.round(r2 * 500), text, color: "#fde68a" };
      if (kind === "update") {
        type = "bubble-update";
        data = { id: bubble.id, version: bubble.version, text, x: Math.round(r2 * 900) };
      } else if (kind === "delete") {
        type = "bubble-delete";
        data = { id: bubble.id };
      }
      try {
        results.push({ type, reply: await view.request(type, data) });
      } catch (error) {
        results.push({ type, error: error.code || String(error) });
      }
    }
    return results;
  })();
}"""
SEED = 16
OPERATIONS_PER_ROUND = 40
RUN_BUDGET_S = 90.0


class RandomRun:
    """Four balanced pages on one map, random operations, and the faults between rounds."""

    def __init__(self, deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi],
                 seed: int):
        self.deployment = deployment
        self.admin_api = admin_api
        self.random = random.Random(seed)
        self.api = DemoApi.sign_in(deployment.nginx.url, "ann")
        self.map_id = self.api.create_map(f"Random run {seed}")["id"]
        self.pages = [browsers.page(deployment.nginx.url, user, self.map_id, user).open()
                      for user in ("ann", "bob", "carol", "dan")]
        self.rounds = 0
        self.operations = 0
        self.updates: list[dict[str, Any]] = []
        self.deletes: list[int] = []

    def round(self, count: int = OPERATIONS_PER_ROUND) -> None:
        """``count`` operations, spread over the four pages, which write concurrently."""
        self.rounds += 1
        for page in self.pages:
            rolls = [[self.random.random() for _ in range(3)] for _ in range(count // len(self.pages))]
            page.page.evaluate(_START_BATCH, [f"{page.label} round {self.rounds}", rolls])
        for page in self.pages:
            for done in page.page.evaluate("window.batch"):
                self.operations += 1
                if "reply" in done and done["type"] == "bubble-update":
                    self.updates.append(done["reply"])
                elif "reply" in done and done["type"] == "bubble-delete":
                    self.deletes.append(done["reply"]["id"])

    def check(self, fault: str) -> None:
        for page in self.pages:
            page.expect_live(timeout=20_000)
        try:
            assert_converged(self.pages, self.api, self.map_id, timeout_s=CONVERGED_S)
        except AssertionError as exc:
            raise AssertionError(f"after {fault} ({self.operations} operations): {exc}") from None

    # faults (operations go on during each) ---------------------------------------------------

    def reload_pages(self) -> None:
        for page in self.random.sample(self.pages, 2):
            page.reload()

    def restart_redis(self) -> None:
        self.deployment.redis.kill()
        self.round(10)
        self.deployment.redis.start()

    def kill(self, name: str) -> None:
        self.deployment.instances[name].kill()
        self.round(10)
        self.deployment.heal()

    def stall(self) -> None:
        self.deployment.redis.cli("CLIENT", "PAUSE", str(STALL_MS), "ALL")
        self.round(10)

    def stall_then_kill(self) -> None:
        """The outbox's own case: pages on both instances (the survivor's pages can learn of
        the victim's writes only through the broker), Redis stalled, the victim killed."""
        victim = self._spread_pages()
        self.deployment.redis.cli("CLIENT", "PAUSE", str(STALL_MS), "ALL")
        self.round(8)
        self.deployment.instances[victim].kill()
        self.round(8)
        self.deployment.heal()

    def _spread_pages(self) -> str:
        """Reload pages until both instances host some; then one of the two, at random."""
        for attempt in range(8):
            hosted = [clients_of(self.admin_api[name].stats(), self.map_id) for name in ("a", "b")]
            if all(hosted):
                return self.random.choice(["a", "b"])
            move_round_robin(self.deployment.nginx.url, attempt)
            self.pages[attempt % len(self.pages)].reload()
        raise AssertionError("pages not spread over both instances after 8 reloads")


def test_a_long_random_run_with_redis_restarts_kills_stalls_and_reloads_converges_after_every_fault(
        healthy_deployment: Deployment, browsers: Browsers, admin_api: dict[str, DemoApi]):
    run = RandomRun(healthy_deployment, browsers, admin_api, SEED)
    started = time.monotonic()
    faults = [("page reloads", run.reload_pages),
              ("a Redis stall with a kill -9 of an instance in it", run.stall_then_kill),
              ("a Redis restart", run.restart_redis), ("kill -9 of instance a", lambda: run.kill("a")),
              ("a Redis stall", run.stall), ("kill -9 of instance b", lambda: run.kill("b")),
              ("page reloads", run.reload_pages)]
    run.round()
    run.check("the first round")
    for name, fault in faults:
        if time.monotonic() - started > RUN_BUDGET_S:
            break
        fault()
        run.check(name)
        run.round()
    run.check("the last round")

    stored = stored_bubbles(run.api, run.map_id)
    assert not set(run.deletes) & set(stored), "a bubble whose delete was acknowledged is back"
    assert_no_acknowledged_write_lost([u for u in run.updates if u["id"] in stored], run.api, run.map_id)
    print(f"random run seed={SEED}: {run.operations} operations, {time.monotonic() - started:.0f}s")
