"""bubblemap over WebSocket: who may open a map, the snapshot, the three requests."""

from __future__ import annotations

import asyncio
import json

import pytest

from demo_app.people import color_of
from sanic_wsns import testing
from tests.support.demo import close_code, demo_app, map_client, sign_in, wait_closed
from tests.support.wsclient import recv_json


@pytest.fixture
async def public_map(ann):
    return await ann.create_map("Public ideas", private=False)


@pytest.fixture
async def private_map(ann):
    return await ann.create_map("Secret plans", private=True)


BUBBLE = {"x": 120.5, "y": -40.0, "text": "hello", "color": "#ff8800"}


# -- who may open a map -------------------------------------------------------------------

async def test_no_session_is_closed_with_4401(demo, public_map):
    assert await close_code(demo, public_map["id"], None) == 4401


async def test_forged_session_is_closed_with_4401(demo, ann, public_map):
    forged = ann.cookie.replace("session=", "session=x")
    assert await close_code(demo, public_map["id"], forged) == 4401


async def test_private_map_closes_non_member_with_4403(demo, bob, private_map):
    assert await close_code(demo, private_map["id"], bob.cookie) == 4403


async def test_unknown_map_is_closed_with_4404(demo, ann):
    assert await close_code(demo, 999, ann.cookie) == 4404


async def test_owner_opens_private_map(ann, private_map):
    async with map_client(ann, private_map["id"]) as client:
        assert client.snapshot["map"]["id"] == private_map["id"]


async def test_invited_member_opens_private_map(ann, bob, private_map):
    reply = await ann.call("POST", f"/api/1/maps/{private_map['id']}/members", {"name": "bob"})
    assert reply.status == 200
    async with map_client(bob, private_map["id"]) as client:
        assert client.snapshot["map"]["members"] == ["bob"]


async def test_public_map_opens_for_anyone_signed_in(bob, public_map):
    async with map_client(bob, public_map["id"]) as client:
        assert client.welcome["public"] == {"name": "bob", "color": color_of("bob"), "editing": None}


# -- snapshot and requests ----------------------------------------------------------------

async def test_snapshot_after_welcome_holds_map_and_bubbles(ann, public_map):
    await ann.call("POST", f"/api/1/maps/{public_map['id']}/bubbles", BUBBLE)
    async with map_client(ann, public_map["id"]) as client:
        assert client.snapshot["map"] == {**public_map, "members": [], "revision": public_map["revision"] + 1}
        assert [b["text"] for b in client.snapshot["bubbles"]] == ["hello"]


async def test_create_replies_with_stored_bubble_at_version_1_and_broadcasts_it(tmp_path):
    async with testing.serve(demo_app(tmp_path / "db.sqlite")) as server:
        ann, bob = await sign_in(server, "ann"), await sign_in(server, "bob")
        public_map = await ann.create_map("Public ideas", private=False)
        path = f"/api/1/ws/bubblemap/{public_map['id']}"
        mine = await server.connect(path, headers={"Cookie": ann.cookie})
        theirs = await server.connect(path, headers={"Cookie": bob.cookie})
        created = theirs.frames("bubble-created")
        bubble = await mine.request("bubble-create", BUBBLE)  # an error answer raises
        assert bubble == {**BUBBLE, "id": bubble["id"], "version": 1, "edited_by": "ann",
                          "edited_at": bubble["edited_at"]}
        async with asyncio.timeout(5):
            assert (await anext(created))["data"] == bubble
        assert await ann.bubbles(public_map["id"]) == [bubble]


async def test_update_bumps_version_and_broadcasts_whole_bubble(ann, bob, public_map):
    async with map_client(ann, public_map["id"]) as mine, map_client(bob, public_map["id"]) as theirs:
        bubble = (await mine.request("bubble-create", BUBBLE))["data"]
        reply = await mine.request("bubble-update", {"id": bubble["id"], "version": 1, "text": "edited"})
        updated = reply["data"]
        assert updated == {**bubble, "text": "edited", "version": 2, "edited_at": updated["edited_at"]}
        assert updated["edited_at"] >= bubble["edited_at"]
        assert await theirs.next("bubble-updated") == updated


async def test_stale_update_is_a_conflict_carrying_the_current_bubble(ann, public_map):
    async with map_client(ann, public_map["id"]) as client:
        bubble = (await client.request("bubble-create", BUBBLE))["data"]
        winner = (await client.request("bubble-update", {"id": bubble["id"], "version": 1, "x": 5}))["data"]
        error = await client.request("bubble-update", {"id": bubble["id"], "version": 1, "x": 9})
        assert error["type"] == "error"
        assert error["data"]["code"] == "conflict"
        assert error["data"]["details"] == winner
    assert await ann.bubbles(public_map["id"]) == [winner]


async def test_delete_broadcasts_bubble_deleted(ann, bob, public_map):
    async with map_client(ann, public_map["id"]) as mine, map_client(bob, public_map["id"]) as theirs:
        bubble = (await mine.request("bubble-create", BUBBLE))["data"]
        reply = await mine.request("bubble-delete", {"id": bubble["id"]})
        assert reply == {"type": "reply", "id": reply["id"], "data": {"id": bubble["id"]}}
        assert await theirs.next("bubble-deleted") == {"id": bubble["id"]}
    assert await ann.bubbles(public_map["id"]) == []


@pytest.mark.parametrize("type, data", [
    ("bubble-update", {"id": 4242, "version": 1, "text": "x"}),
    ("bubble-delete", {"id": 4242}),
])
async def test_unknown_bubble_is_not_found(ann, public_map, type, data):
    async with map_client(ann, public_map["id"]) as client:
        error = await client.request(type, data)
    assert error["data"]["code"] == "not_found"


async def test_bubble_of_another_map_is_not_found(ann, public_map):
    other = await ann.create_map("Other")
    async with map_client(ann, other["id"]) as client:
        foreign = (await client.request("bubble-create", BUBBLE))["data"]
    async with map_client(ann, public_map["id"]) as client:
        update = await client.request("bubble-update", {"id": foreign["id"], "version": 1, "text": "x"})
        delete = await client.request("bubble-delete", {"id": foreign["id"]})
    assert update["data"]["code"] == delete["data"]["code"] == "not_found"
    assert await ann.bubbles(other["id"]) == [foreign]


async def test_bubble_ids_are_never_reused_after_delete(ann, public_map):
    async with map_client(ann, public_map["id"]) as client:
        first = (await client.request("bubble-create", BUBBLE))["data"]
        await client.request("bubble-delete", {"id": first["id"]})
        second = (await client.request("bubble-create", BUBBLE))["data"]
    assert second["id"] > first["id"]


# -- validation: invalid_data, nothing stored ---------------------------------------------

INVALID_CREATES = {
    "text over 500 chars": {**BUBBLE, "text": "x" * 501},
    "colour name": {**BUBBLE, "color": "red"},
    "colour without hash": {**BUBBLE, "color": "ff8800"},
    "short colour": {**BUBBLE, "color": "#f80"},
    "colour not hex": {**BUBBLE, "color": "#ggg000"},
    "colour with trailing text": {**BUBBLE, "color": "#ff8800;"},
    "huge y": {**BUBBLE, "y": 1e300},
    "missing x": {k: v for k, v in BUBBLE.items() if k != "x"},
    "missing text": {k: v for k, v in BUBBLE.items() if k != "text"},
    "x as string": {**BUBBLE, "x": "12"},
    "y as null": {**BUBBLE, "y": None},
    "text as number": {**BUBBLE, "text": 5},
    "colour as list": {**BUBBLE, "color": ["#ff8800"]},
    "unknown field": {**BUBBLE, "owner": "mallory"},
    "data not an object": [1, 2],
    "no data": None,
}


@pytest.mark.parametrize("data", INVALID_CREATES.values(), ids=INVALID_CREATES.keys())
async def test_invalid_create_is_invalid_data_and_stores_nothing(ann, public_map, data):
    async with map_client(ann, public_map["id"]) as client:
        error = await client.request("bubble-create", data)
    assert error["type"] == "error"
    assert error["data"]["code"] == "invalid_data"
    assert await ann.bubbles(public_map["id"]) == []


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
async def test_infinite_coordinate_is_invalid_data_and_stores_nothing(ann, public_map, number):
    # JSON spells infinity only as an overflowing number; json.dumps cannot produce it.
    async with map_client(ann, public_map["id"]) as client:
        await client.ws.send('{"type":"bubble-create","id":1,"data":'
                             f'{{"x":{number},"y":0,"text":"","color":"#000000"}}}}')
        error = await recv_json(client.ws)
    assert error["data"]["code"] == "invalid_data"
    assert await ann.bubbles(public_map["id"]) == []


async def test_text_of_exactly_500_chars_is_accepted(ann, public_map):
    async with map_client(ann, public_map["id"]) as client:
        reply = await client.request("bubble-create", {**BUBBLE, "text": "é" * 500})
    assert reply["type"] == "reply"


INVALID_UPDATES = {
    "text over 500 chars": {"text": "x" * 501},
    "bad colour": {"color": "#12345"},
    "huge x": {"x": -1e12},
    "wrong type": {"y": "up"},
    "no field to change": {},
    "missing version": {"version": None},
    "version zero": {"version": 0},
    "version as string": {"version": "1"},
    "missing id": {"id": None},
    "unknown field": {"size": 3},
}


@pytest.mark.parametrize("change", INVALID_UPDATES.values(), ids=INVALID_UPDATES.keys())
async def test_invalid_update_is_invalid_data_and_changes_nothing(ann, public_map, change):
    async with map_client(ann, public_map["id"]) as client:
        bubble = (await client.request("bubble-create", BUBBLE))["data"]
        data = {"id": bubble["id"], "version": 1, **change}
        data = {k: v for k, v in data.items() if v is not None}
        error = await client.request("bubble-update", data)
    assert error["data"]["code"] == "invalid_data"
    assert await ann.bubbles(public_map["id"]) == [bubble]


async def test_invalid_delete_is_invalid_data(ann, public_map):
    async with map_client(ann, public_map["id"]) as client:
        bubble = (await client.request("bubble-create", BUBBLE))["data"]
        error = await client.request("bubble-delete", {"id": str(bubble["id"])})
    assert error["data"]["code"] == "invalid_data"
    assert await ann.bubbles(public_map["id"]) == [bubble]


async def test_nan_is_not_json_so_the_frame_is_an_invalid_message(ann, public_map):
    async with map_client(ann, public_map["id"]) as client:
        frame = {"type": "bubble-create", "id": 1, "data": {**BUBBLE, "x": float("nan")}}
        await client.ws.send(json.dumps(frame))
        error = await recv_json(client.ws)
    assert error["type"] == "error"
    assert error["data"]["code"] == "invalid_message"
    assert await ann.bubbles(public_map["id"]) == []


# -- REST writes reach WebSocket clients --------------------------------------------------

async def test_rest_created_bubble_is_broadcast_to_ws_clients(ann, bob, public_map):
    async with map_client(ann, public_map["id"]) as client:
        reply = await bob.call("POST", f"/api/1/maps/{public_map['id']}/bubbles", BUBBLE)
        assert reply.status == 201
        assert await client.next("bubble-created") == reply.data


async def test_deleting_a_map_closes_its_clients_with_4410(demo, ann, bob, public_map):
    async with map_client(ann, public_map["id"]) as mine, map_client(bob, public_map["id"]) as theirs:
        reply = await ann.call("DELETE", f"/api/1/maps/{public_map['id']}")
        assert reply.status == 204
        codes = [await wait_closed(mine.ws), await wait_closed(theirs.ws)]
    assert codes == [4410, 4410]
    assert await close_code(demo, public_map["id"], ann.cookie) == 4404


async def test_the_session_behind_a_client_stays_on_the_server(ann, public_map):
    session_id = ann.cookie.split("=", 1)[1].split(".")[0]
    async with map_client(ann, public_map["id"]) as client:
        reply = await client.request("bubble-create", BUBBLE)
        seen = json.dumps([client.welcome, client.snapshot, reply])
    assert client.welcome["public"] == {"name": "ann", "color": color_of("ann"), "editing": None}
    assert session_id not in seen
