"""When the Python client cannot recover, the app is told once to re-fetch; and a closed
client leaves nothing running."""

from __future__ import annotations

import asyncio

from sanic_wsns import History
from tests.integration.remote.conftest import TIMEOUT, States, fast, next_frame
from tests.support.instances import instances


async def test_a_gap_longer_than_the_history_is_one_resync_with_the_servers_reason(broker):
    async with instances(broker, history=History(size=2)) as (a, _b), \
            fast(a.ws("g1", "name=ann")) as ns:
        states, resyncs, edits = States(ns), ns.frames("resync"), ns.frames("edited")
        told: list[object] = []
        ns.on("resync", lambda data, frame: told.append(data))
        await a.wsns.broadcast("/maps/g1", "edited", 1)
        assert (await next_frame(edits))["offset"] == 1
        ns.drop(reconnect=False)
        await states.reach("reconnecting")
        for n in range(2, 7):  # five frames while away; the history keeps two
            await a.wsns.broadcast("/maps/g1", "edited", n)
        ns.reconnect_now()
        resync = await next_frame(resyncs)
        assert resync["data"]["reason"] == "history_exhausted" and ns.welcome["recovered"] is False
        assert ns.position is not None and ns.position.offset == 6  # delivery goes on from here
        await a.wsns.broadcast("/maps/g1", "edited", 7)
        assert (await next_frame(edits)) == {"type": "edited", "data": 7, "offset": 7}
        assert told == [resync["data"]]  # once


async def test_close_leaves_no_task_of_the_client_running(core):
    server, _wsns, _events = core
    before = asyncio.all_tasks()
    ns = await fast(server.ws("/ws/open/c"))
    slow = asyncio.Event()

    async def listener(data: object, frame: object) -> None:
        await slow.wait()  # never set: close must cancel it

    ns.on("said", listener)
    heard = ns.frames("said")
    await ns.send("say", "x")
    other = await fast(server.ws("/ws/open/c"))
    await other.send("say", "to ns")
    await next_frame(heard)
    await other.close()
    await ns.close()
    left = [task for task in asyncio.all_tasks() - before if not task.done()]
    assert left == [], left
    async with asyncio.timeout(TIMEOUT):
        assert [frame async for frame in heard] == []  # the stream ended
    assert ns.state == "closed" and other.state == "closed"
