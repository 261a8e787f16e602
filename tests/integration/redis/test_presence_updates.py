"""``client.update_presence``: every client of the namespace, on every instance, hears the
new value as a join of the same client id (an overwrite, never a leave), and the state a
newcomer gets and ``presence()`` hold the new value."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.support.instances import client, frame, instances, until


async def welcomed(ws: ClientConnection) -> str:
    welcome = await frame(ws)
    assert welcome["type"] == "welcome"
    return str(welcome["data"]["client_id"])


async def doing(ws: ClientConnection, what: Any) -> None:
    await ws.send(json.dumps({"type": "doing", "data": what}))


async def hears(ws: ClientConnection, cid: str, public: Any, timeout: float = 5.0) -> str:
    """Read presence frames until ``cid`` is shown as ``public``; ``cid`` never leaves
    meanwhile. Which frame showed it: ``presence_state`` or ``presence_diff``."""
    async with asyncio.timeout(timeout):
        while True:
            received = await frame(ws, timeout)
            if received["type"] == "presence_state" and received["data"].get(cid) == public:
                return "presence_state"
            if received["type"] == "presence_diff":
                assert cid not in received["data"]["leaves"], f"{cid} was shown leaving"
                if received["data"]["joins"].get(cid) == public:
                    return "presence_diff"


async def test_an_update_reaches_every_client_as_an_overwrite_without_a_leave(broker):
    async with instances(broker, presence=True) as (a, b), \
            connect(a.ws("1", "name=watcher")) as watcher, connect(b.ws("1", "name=ann")) as ann:
        await welcomed(watcher)
        ann_id = await welcomed(ann)
        for ws in (watcher, ann):
            await hears(ws, ann_id, {"name": "ann"})
        await doing(ann, "editing bubble 12")
        for ws in (watcher, ann):  # the other instance's client and ann itself
            assert await hears(ws, ann_id, {"name": "ann", "doing": "editing bubble 12"}) == "presence_diff"
        assert (await a.wsns.presence("/maps/1"))[ann_id] == {"name": "ann", "doing": "editing bubble 12"}
        async with connect(a.ws("1", "name=late")) as late:
            await welcomed(late)
            state = await until(late, "presence_state")
            assert state["data"][ann_id] == {"name": "ann", "doing": "editing bubble 12"}


async def test_the_same_value_twice_is_announced_once_and_a_cleared_one_again(broker):
    async with instances(broker, presence=True) as (a, b), \
            connect(a.ws("2", "name=watcher")) as watcher, connect(b.ws("2", "name=ann")) as ann:
        await welcomed(watcher)
        ann_id = await welcomed(ann)
        await hears(watcher, ann_id, {"name": "ann"})
        await doing(ann, "x")
        await hears(watcher, ann_id, {"name": "ann", "doing": "x"})
        await doing(ann, "x")  # no change: nobody hears it
        await doing(ann, None)
        diff = await until(watcher, "presence_diff")
        assert diff["data"] == {"joins": {ann_id: {"name": "ann", "doing": None}}, "leaves": {}}


async def test_the_python_client_overwrites_the_member_and_reports_a_join(broker):
    async with instances(broker, presence=True) as (a, b), \
            client(a.ws("3", "name=watcher")) as watcher, connect(b.ws("3", "name=ann")) as ann:
        ann_id = await welcomed(ann)
        changes: asyncio.Queue[Any] = asyncio.Queue()
        watcher.ns.on("presence", lambda members, change: changes.put_nowait(change))

        async def member_is(public: Any) -> Any:
            change = None
            async with asyncio.timeout(5):
                while watcher.ns.presence.get(ann_id) != public:
                    change = await changes.get()
                return change

        await member_is({"name": "ann"})
        await doing(ann, "editing")
        change = await member_is({"name": "ann", "doing": "editing"})
        assert change.joins == {ann_id: {"name": "ann", "doing": "editing"}} and not change.leaves


async def test_an_update_in_a_namespace_without_presence_is_answered_with_an_error(broker):
    async with instances(broker, count=1) as (a,), connect(a.ws("4", "name=ann")) as ann:
        await welcomed(ann)
        await ann.send(json.dumps({"type": "doing", "data": "x", "id": 1}))
        reply = await until(ann, "error")
        assert reply["id"] == 1
