"""The live map lists: who may listen to which list, and map cards reaching list pages on
every instance when a map is created, edited, shared or deleted, also when the instance
that stored the change died before publishing anything."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from demo_app.models import BubbleCreate
from demo_app.paths import list_path, personal
from demo_app.store import bubbles
from tests.support.demo import (
    as_a_dead_instance,
    close_code_at,
    list_client,
    map_client,
    map_lists,
    next_card,
    sign_in,
)
from tests.support.wsclient import recv_json

BUBBLE = {"x": 1.0, "y": 2.0, "text": "idea", "color": "#22aa66"}
#: Other frames may come to a list; none about this map may within this window.
QUIET_S = 2.0


async def test_a_user_listens_to_the_public_list_and_to_a_personal_one(ann):
    public, mine = await map_lists(ann)
    assert public == list_path("public")
    assert mine == list_path(personal("ann"))
    for path in (public, mine):
        async with list_client(ann, path):
            pass


async def test_nobody_else_may_open_a_personal_list_signed_out_nobody_any_and_others_do_not_exist(
        demo, ann, bob):
    _public, anns = await map_lists(ann)
    assert await close_code_at(demo, anns, bob.cookie) == 4403
    assert await close_code_at(demo, list_path("public"), None) == 4401
    assert await close_code_at(demo, list_path("everyone"), bob.cookie) == 4404


async def test_a_public_map_created_and_edited_on_one_instance_reaches_the_list_on_the_other(redis_pair):
    first, second, _db = redis_pair
    ann = await sign_in(first, "ann")
    bob = (await sign_in(first, "bob")).on(second)
    public, _ = await map_lists(bob)
    async with list_client(bob, public) as listing:
        created = await ann.create_map("Launch")
        card = await next_card(listing, created["id"])
        assert (card["title"], card["owner"], card["bubble_count"]) == ("Launch", "ann", 0)
        await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
        changed = await next_card(listing, created["id"])
        assert changed["bubble_count"] == 1
        assert changed["revision"] > card["revision"]
        assert changed["changed_at"] >= card["changed_at"]
        await ann.call("DELETE", f"/api/1/maps/{created['id']}")
        assert await next_card(listing, created["id"], "map-removed") == {"id": created["id"]}


async def test_a_private_map_reaches_only_its_people_and_a_new_member_sees_it_appear(redis_pair):
    first, second, _db = redis_pair
    ann = await sign_in(first, "ann")
    bob = (await sign_in(first, "bob")).on(second)
    eve = (await sign_in(first, "eve")).on(second)
    anns, bobs, eves = [(await map_lists(user))[1] for user in (ann, bob, eve)]
    async with list_client(ann.on(second), anns) as ann_list, list_client(bob, bobs) as bob_list, \
            list_client(eve, eves) as eve_list, list_client(eve, list_path("public")) as public:
        created = await ann.create_map("Secret", private=True)
        assert (await next_card(ann_list, created["id"]))["members"] == []
        await ann.call("POST", f"/api/1/maps/{created['id']}/members", {"name": "bob"})
        assert (await next_card(bob_list, created["id"]))["members"] == ["bob"]
        assert (await next_card(ann_list, created["id"]))["members"] == ["bob"]
        for outsider in (eve_list, public):
            with pytest.raises(TimeoutError):
                await next_card(outsider, created["id"], timeout=QUIET_S)


async def test_a_card_stored_by_an_instance_that_died_at_once_still_reaches_the_lists(redis_pair):
    first, second, db = redis_pair
    ann = await sign_in(first, "ann")
    created = await ann.create_map("Kept")
    public, _ = await map_lists(ann)
    async with list_client(ann.on(second), public) as listing:
        new = msgspec.convert(BUBBLE, BubbleCreate)
        await as_a_dead_instance(
            db, lambda store: store.write(bubbles.create, store.policy, created["id"], new, "ann"))
        assert (await next_card(listing, created["id"]))["bubble_count"] == 1


async def test_a_busy_map_sends_each_list_its_latest_card_not_one_per_change(ann):
    created = await ann.create_map("Busy")
    public, _ = await map_lists(ann)
    changes = 30
    async with list_client(ann, public) as listing:
        await next_card(listing, created["id"])  # the new map
        await asyncio.gather(*(ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
                               for _ in range(changes)))
        cards = [await next_card(listing, created["id"])]
        while cards[-1]["bubble_count"] < changes:
            cards.append(await next_card(listing, created["id"]))
        assert len(cards) < changes, "every change sent its own card"
        with pytest.raises(TimeoutError):  # nothing older follows the latest
            await recv_json(listing, timeout=QUIET_S)
    assert [c["revision"] for c in cards] == sorted(c["revision"] for c in cards)


async def test_the_owner_renames_a_map_and_its_pages_and_the_lists_follow_on_every_instance(redis_pair):
    first, second, _db = redis_pair
    ann = await sign_in(first, "ann")
    bob = (await sign_in(first, "bob")).on(second)
    created = await ann.create_map("Draft")
    async with list_client(bob, list_path("public")) as listing, map_client(bob, created["id"]) as page:
        reply = await ann.call("PATCH", f"/api/1/maps/{created['id']}", {"title": " Final "})
        assert (reply.status, reply.data["title"]) == (200, "Final")
        assert await page.next("map-updated") == reply.data
        card = await next_card(listing, created["id"])
        assert (card["title"], card["revision"]) == ("Final", reply.data["revision"])
    assert (await bob.call("GET", f"/api/1/maps/{created['id']}")).data["map"]["title"] == "Final"


@pytest.mark.parametrize("body, status", [({"title": "   "}, 400), ({"title": "x", "private": True}, 400)])
async def test_a_rename_with_a_bad_body_is_refused(ann, body, status):
    created = await ann.create_map()
    assert (await ann.call("PATCH", f"/api/1/maps/{created['id']}", body)).status == status


async def test_only_the_owner_may_rename_a_map(ann, bob):
    created = await ann.create_map()
    reply = await bob.call("PATCH", f"/api/1/maps/{created['id']}", {"title": "Mine now"})
    assert (reply.status, reply.data["error"]) == (403, "forbidden")


async def test_a_new_member_reaches_the_open_pages_of_the_map(ann, bob):
    created = await ann.create_map("Team", private=True)
    async with map_client(ann, created["id"]) as page:
        await ann.call("POST", f"/api/1/maps/{created['id']}/members", {"name": "bob"})
        assert (await page.next("map-updated"))["members"] == ["bob"]
