"""What each person on a map is doing: ``editing`` changes their presence for everyone on
the map, on every instance, and leaving clears it (demo_app/realtime.py, people.py)."""

from __future__ import annotations

import json
from typing import Any

from demo_app.limits import Limits
from demo_app.people import COLORS, color_of
from demo_app.throttle import Rate
from tests.support.demo import MapClient, map_client, recv_type, running_demo, sign_in
from tests.support.wsclient import recv_json

BUBBLE = {"x": 1.0, "y": 2.0, "text": "idea", "color": "#22aa66"}
TWO_CHANGES = Rate(per_second=0.001, burst=2)


async def say_editing(client: MapClient, bubble: int | None) -> None:
    await client.ws.send(json.dumps({"type": "editing", "data": {"bubble": bubble}}))


async def next_change(watcher: MapClient, who: str) -> tuple[str, Any]:
    """The next presence change about client ``who``: ``("join", public)`` or
    ``("leave", public)``."""
    while True:
        diff = (await recv_type(watcher.ws, "presence_diff"))["data"]
        if who in diff["joins"]:
            return "join", diff["joins"][who]
        if who in diff["leaves"]:
            return "leave", diff["leaves"][who]


async def test_a_selection_reaches_the_others_on_every_instance_and_clearing_and_leaving_end_it(redis_pair):
    first, second, _ = redis_pair
    ann, bob = await sign_in(first, "ann"), await sign_in(second, "bob")
    created = await ann.create_map()
    async with map_client(bob, created["id"]) as watcher:
        async with map_client(ann, created["id"]) as editor:
            me = editor.welcome["client_id"]
            assert await next_change(watcher, me) == ("join", {"name": "ann", "color": color_of("ann"),
                                                               "editing": None})
            bubble = (await editor.request("bubble-create", BUBBLE))["data"]
            await say_editing(editor, bubble["id"])
            assert await next_change(watcher, me) == ("join", {"name": "ann", "color": color_of("ann"),
                                                               "editing": bubble["id"]})
            await say_editing(editor, None)
            kind, shown = await next_change(watcher, me)
            assert (kind, shown["editing"]) == ("join", None)
            await say_editing(editor, bubble["id"])
            assert (await next_change(watcher, me))[1]["editing"] == bubble["id"]
        assert (await next_change(watcher, me))[0] == "leave"


async def test_saying_the_same_again_is_no_change_and_costs_nothing(tmp_path):
    """A repeat (a page re-sends its selection after every reconnect) is not announced and
    spends none of the user's presence-update budget (two changes here)."""
    async with running_demo(tmp_path / "db.sqlite", limits=Limits(presence_updates=TWO_CHANGES)) as demo:
        ann = await sign_in(demo, "ann")
        created = await ann.create_map()
        async with map_client(ann, created["id"]) as editor:
            bubble = (await editor.request("bubble-create", BUBBLE))["data"]["id"]
            for shown in (bubble, bubble, bubble, None, None):
                await say_editing(editor, shown)
            # One client's messages are handled in order: this reply comes after all of them.
            await editor.ws.send(json.dumps({"type": "bubble-delete", "data": {"id": bubble}, "id": 99}))
            frames = await frames_until_reply(editor, 99)
    assert [f for f in frames if f["type"] == "error"] == []


async def frames_until_reply(client: MapClient, id: int) -> list[dict[str, Any]]:
    frames = []
    while not frames or frames[-1].get("id") != id:
        frames.append(await recv_json(client.ws))
    return frames


async def test_a_bubble_not_on_the_map_is_not_found_and_shown_to_nobody(demo, ann):
    created, other = await ann.create_map(), await ann.create_map("Other")
    async with map_client(ann, other["id"]) as elsewhere:
        bubble = (await elsewhere.request("bubble-create", BUBBLE))["data"]["id"]
    async with map_client(ann, created["id"]) as editor:
        await say_editing(editor, bubble)
        error = await recv_type(editor.ws, "error")
        assert error["data"]["code"] == "not_found"
        await say_editing(editor, "twelve")  # type: ignore[arg-type]
        assert (await recv_type(editor.ws, "error"))["data"]["code"] == "invalid_data"


async def test_changing_what_one_does_faster_than_a_person_would_is_rate_limited(tmp_path):
    async with running_demo(tmp_path / "db.sqlite", limits=Limits(presence_updates=TWO_CHANGES)) as demo:
        ann = await sign_in(demo, "ann")
        created = await ann.create_map()
        async with map_client(ann, created["id"]) as editor:
            bubble = (await editor.request("bubble-create", BUBBLE))["data"]["id"]
            for shown in (bubble, None, bubble):
                await say_editing(editor, shown)
            error = await recv_type(editor.ws, "error")
            assert error["data"]["code"] == "rate_limited" and error["data"]["details"]["retry_after"] > 0


def test_a_persons_colour_is_one_of_the_palette_and_the_same_every_time():
    assert color_of("ann") == color_of("ann") in COLORS
    assert len({color_of(f"user{i}") for i in range(200)}) == len(COLORS)
