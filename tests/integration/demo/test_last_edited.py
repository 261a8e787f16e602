""""Last edited by" on every bubble: who changed it last (an account's display name, never
anything private) and when, in the REST snapshot and in every frame about it; and a
database made before bubblemap kept it still opens."""

from __future__ import annotations

import sqlite3
import time

import msgspec

from demo_app.models import BubbleUpdate
from demo_app.store import Store, bubbles, maps
from tests.support.demo import map_client, sign_in

BUBBLE = {"x": 1.0, "y": 2.0, "text": "idea", "color": "#22aa66"}


async def test_the_snapshot_and_every_frame_name_who_changed_a_bubble_last_and_when(redis_pair):
    first, second, _db = redis_pair
    ann = await sign_in(first, "Ann Lee")
    bob = (await sign_in(first, "bob")).on(second)
    created = await ann.create_map("Shared")
    async with map_client(ann, created["id"]) as anns, map_client(bob, created["id"]) as bobs:
        before = time.time()
        made = (await anns.request("bubble-create", BUBBLE))["data"]
        assert (made["edited_by"], await bobs.next("bubble-created")) == ("Ann Lee", made)
        changed = (await bobs.request("bubble-update", {"id": made["id"], "version": 1, "x": 9}))["data"]
        assert changed["edited_by"] == "bob"
        assert before - 1 <= made["edited_at"] <= changed["edited_at"] <= time.time() + 1
        assert await anns.next("bubble-updated") == changed
    [stored] = (await ann.call("GET", f"/api/1/maps/{created['id']}")).data["bubbles"]
    assert stored == changed


async def test_a_bubble_made_over_rest_is_edited_by_the_caller(ann):
    created = await ann.create_map()
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
    assert reply.data["edited_by"] == "ann"
    assert (await ann.bubbles(created["id"]))[0]["edited_by"] == "ann"


async def test_a_conflict_shows_who_saved_first(ann, bob):
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as anns, map_client(bob, created["id"]) as bobs:
        made = (await anns.request("bubble-create", BUBBLE))["data"]
        await anns.request("bubble-update", {"id": made["id"], "version": 1, "text": "ann's"})
        refused = await bobs.request("bubble-update", {"id": made["id"], "version": 1, "text": "bob's"})
    assert refused["data"]["code"] == "conflict"
    assert refused["data"]["details"]["edited_by"] == "ann"


#: What bubblemap's tables looked like before it kept the editor, a map's revision and
#: scheduled frames (commit ea42b1d).
OLD_TABLES = """
CREATE TABLE maps (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, owner TEXT NOT NULL,
                   private INTEGER NOT NULL);
CREATE TABLE bubbles (id INTEGER PRIMARY KEY AUTOINCREMENT,
                      map_id INTEGER NOT NULL REFERENCES maps(id) ON DELETE CASCADE,
                      x REAL NOT NULL, y REAL NOT NULL, text TEXT NOT NULL, color TEXT NOT NULL,
                      version INTEGER NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, type TEXT NOT NULL,
                     data TEXT NOT NULL, created REAL NOT NULL, published_at REAL, claimed_by TEXT,
                     claimed_until REAL);
INSERT INTO maps (title, owner, private) VALUES ('Old', 'ann', 0);
INSERT INTO bubbles (map_id, x, y, text, color, version) VALUES (1, 1, 2, 'from before', '#123456', 3);
"""


async def test_a_database_from_before_opens_and_its_bubbles_get_an_editor_at_their_next_change(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_TABLES)
    for _ in range(2):  # the second opening finds nothing left to add
        store = Store(path)
        await store.open()
        try:
            view = await store.read(bubbles.view, 1)
            assert view is not None
            [bubble] = view.bubbles
            if bubble.version == 3:
                assert (bubble.text, bubble.edited_by, bubble.edited_at) == ("from before", None, None)
                changed, _frame = await store.write(bubbles.update, store.policy, 1,
                                                   BubbleUpdate(id=1, version=3, x=5.0), "bob")
                assert (changed.version, changed.edited_by) == (4, "bob")
            else:
                assert msgspec.structs.astuple(bubble)[5:7] == (4, "bob")
            [card] = await store.read(maps.visible_to, "ann")
            assert (card.bubble_count, card.revision) == (1, 1)
        finally:
            await store.close()
