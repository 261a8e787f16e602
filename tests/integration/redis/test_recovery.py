"""Recovery across instances: offsets, returning clients, gap fill (memory:// and Redis).

Every test runs twice, on the memory broker (two instances in one process sharing a hub)
and on a real redis-server: the memory broker keeps the same promises.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from sanic_wsns import BrokerUnavailable, History
from tests.support.instances import edit, frame, instances
from tests.support.servers import wait_for
from tests.support.wsclient import join_sleeper


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    """A connection and its welcome's data. Its receive queue is unbounded: a client that
    leaves with frames unread must not stall its close handshake behind them (the
    websockets client stops reading its socket while its queue is full)."""
    async with connect(url, max_queue=None) as ws:
        welcome = await frame(ws)
        assert welcome["type"] == "welcome", welcome
        yield ws, welcome["data"]


async def frames(ws: ClientConnection, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    return [await frame(ws, timeout) for _ in range(count)]


def since(position: dict[str, Any], offset: int | None = None) -> str:
    return f"since={position['offset'] if offset is None else offset}&epoch={position['epoch']}"


async def quiet(ws: ClientConnection, seconds: float = 0.3) -> None:
    """Nothing more arrives (a bounded look, for "and nothing else")."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def test_broadcasts_carry_consecutive_offsets_on_every_instance_in_one_order(broker):
    async with instances(broker, history=True) as (a, b), \
            opened(a.ws("1")) as (on_a, welcome_a), opened(b.ws("1")) as (on_b, welcome_b):
        assert welcome_a["position"]["offset"] == welcome_b["position"]["offset"] == 0
        assert "recovered" not in welcome_a
        for n in range(10):
            await edit(on_a if n % 2 else on_b, n)
        got_a, got_b = await frames(on_a, 10), await frames(on_b, 10)
        assert got_a == got_b  # the publishing instance's clients too: one order everywhere
        assert [f["offset"] for f in got_a] == list(range(1, 11))
        assert sorted(f["data"] for f in got_a) == list(range(10))


async def test_broadcast_returns_the_position_and_position_reads_it_anywhere(broker):
    async with instances(broker, history=True) as (a, b), opened(a.ws("2")) as (ws, _):
        first = await a.wsns.broadcast("/maps/2", "edited", "x")
        second = await b.wsns.broadcast("/maps/2", "edited", "y")  # b hosts nothing
        assert (first.offset, second.offset) == (1, 2) and first.epoch == second.epoch
        assert await b.wsns.position("/maps/2") == second
        assert [f["offset"] for f in await frames(ws, 2)] == [1, 2]


async def test_unawaited_broadcasts_reach_every_instance_numbered_in_call_order(broker):
    """``ns.broadcast`` without ``await`` queues its frame for numbering at the call: five
    from one handler call, then one from each of five messages, reach the sender's
    instance (served from the numbering's reply) and the other one with consecutive
    offsets in call order; the awaited form still gives the position."""
    async with instances(broker, history=True) as (a, b), \
            opened(a.ws("20")) as (here, _), opened(b.ws("20")) as (there, _):
        await here.send(_json({"type": "jots", "data": list(range(5))}))
        for n in range(5, 10):
            await here.send(_json({"type": "jot", "data": n}))
        got_here, got_there = await frames(here, 10), await frames(there, 10)
        assert got_here == got_there
        assert [(f["offset"], f["data"]) for f in got_here] == [(n + 1, n) for n in range(10)]
        position = await a.wsns.broadcast("/maps/20", "edited", "awaited")
        assert position is not None and position.offset == 11
        assert [f["offset"] for f in (await frames(here, 1) + await frames(there, 1))] == [11, 11]


@pytest.mark.parametrize("back_on", ["same", "other"])
async def test_a_returning_client_gets_exactly_what_it_missed_then_live_frames(broker, back_on):
    async with instances(broker, history=True) as (a, b), opened(a.ws("3")) as (stays, _):
        async with opened(a.ws("3")) as (leaves, welcome):
            await edit(stays, "seen")
            seen = await frame(leaves)
        for n in range(5):
            await edit(stays, n)
        position = {"offset": seen["offset"], "epoch": welcome["position"]["epoch"]}
        target = a if back_on == "same" else b
        async with opened(target.ws("3", since(position))) as (back, again):
            assert again["recovered"] is True
            await edit(stays, "live")
            missed = await frames(back, 6)
            assert [f["data"] for f in missed] == [0, 1, 2, 3, 4, "live"]
            assert [f["offset"] for f in missed] == list(range(seen["offset"] + 1, seen["offset"] + 7))
            await quiet(back)


async def test_a_client_that_missed_more_than_history_holds_is_told_to_resync(broker):
    async with instances(broker, history=History(size=3)) as (a, _), opened(a.ws("4")) as (stays, welcome):
        for n in range(6):
            await edit(stays, n)
        await frames(stays, 6)
        async with opened(a.ws("4", since(welcome["position"], 1))) as (back, again):
            assert again["recovered"] is False and again["position"]["offset"] == 6
            assert await frame(back) == {"type": "resync", "data": {"reason": "history_exhausted"}}
            await edit(stays, "after")
            assert (await frame(back))["offset"] == 7


async def test_a_client_of_another_epoch_is_told_to_resync(broker):
    async with instances(broker, history=True) as (a, _), opened(a.ws("5")) as (stays, welcome):
        await edit(stays, 1)
        await frame(stays)
        stale = {"offset": 1, "epoch": "not-" + welcome["position"]["epoch"]}
        async with opened(a.ws("5", since(stale))) as (back, again):
            assert again["recovered"] is False
            assert (await frame(back))["data"] == {"reason": "epoch_changed"}


@pytest.mark.parametrize("query", ["since=abc&epoch=e", "since=-1&epoch=e", "since=99&epoch=EPOCH"])
async def test_a_position_the_stream_never_had_is_not_a_refusal_but_a_resync(broker, query):
    async with instances(broker, history=True) as (a, _), opened(a.ws("6")) as (_, welcome):
        query = query.replace("EPOCH", welcome["position"]["epoch"])
        async with opened(a.ws("6", query)) as (back, again):
            assert again["recovered"] is False
            assert (await frame(back))["data"]["reason"] in ("invalid_position", "epoch_changed")


async def test_history_expires_ttl_after_the_last_broadcast(broker):
    async with instances(broker, history=History(ttl=1)) as (a, _), opened(a.ws("7")) as (stays, welcome):
        await edit(stays, 1)
        await frame(stays)
        await asyncio.sleep(2.1)  # the ttl itself is what is tested: no event to wait for
        async with opened(a.ws("7", since(welcome["position"]))) as (back, again):
            assert again["recovered"] is False
            assert (await frame(back))["data"] == {"reason": "history_exhausted"}


async def test_the_namespace_position_survives_being_dropped_and_recreated(broker):
    async with instances(broker, history=True) as (a, _):
        async with opened(a.ws("8")) as (ws, welcome):
            await edit(ws, 1)
            await frame(ws)
        await wait_for(lambda: a.totals["namespaces"] == 0)
        async with opened(a.ws("8", since(welcome["position"]))) as (back, again):
            assert again["recovered"] is True and again["position"]["offset"] == 0
            assert (await frame(back))["offset"] == 1


async def test_many_reconnecting_clients_see_strictly_consecutive_offsets(broker):
    """Publishes never stop while 20 clients keep reconnecting to either instance: each
    client's offsets, across all its connections, are 1, 2, 3, … with no gap or repeat."""
    async with instances(broker, history=History(size=1000)) as (a, b):
        total = 600

        async def publisher() -> None:
            for n in range(total):
                await (a if n % 2 else b).wsns.broadcast("/maps/9", "edited", n)
                if n % 20 == 0:
                    await asyncio.sleep(0.005)

        async def reader(k: int) -> list[int]:
            seen: list[int] = []
            epoch = None
            for hop in itertools.count():
                query = f"since={seen[-1] if seen else 0}&epoch={epoch}" if epoch else ""
                async with opened((a, b)[(k + hop) % 2].ws("9", query)) as (ws, welcome):
                    epoch = welcome["position"]["epoch"]
                    if not seen:
                        seen.append(welcome["position"]["offset"])
                    assert welcome.get("recovered", True) is True
                    for _ in range(5 + k % 7):
                        # The last frame can reach a reader before the publisher's
                        # broadcast returns: the count, not the publisher, says it is done.
                        if seen[-1] == total:
                            return seen
                        received = await frame(ws)
                        seen.append(received["offset"])
            raise AssertionError("unreachable")

        readers = [asyncio.create_task(reader(k)) for k in range(20)]
        await asyncio.sleep(0.05)
        await publisher()
        for seen in await asyncio.wait_for(asyncio.gather(*readers), 60):
            assert seen == list(range(seen[0], total + 1)), seen


async def test_a_frame_skipped_by_the_broker_is_filled_from_history_once(broker):
    """An instance that sees offset N+2 after N reads N+1 from history (one read for all
    its clients) instead of telling them to resync."""
    async with instances(broker, history=True) as (a, b), \
            opened(b.ws("10")) as (first, _), opened(b.ws("10")) as (second, _):
        await a.wsns.broadcast("/maps/10", "edited", 1)
        [await frame(ws) for ws in (first, second)]
        # Number a frame in the broker without publishing it: what a lost pub/sub message is.
        history = History()
        channel = a.wsns.hub.channel("/maps/10")
        broker_a = a.wsns.broker
        head = b'{"type":"edited","data":"lost"'
        await broker_a.publish_numbered(channel, head, _unheard_message(), history)
        await a.wsns.broadcast("/maps/10", "edited", 3)
        for ws in (first, second):
            got = await frames(ws, 2)
            assert [(f["offset"], f["data"]) for f in got] == [(2, "lost"), (3, 3)]
        assert b.totals["resyncs"] == {}


def _unheard_message() -> bytes:
    """A relay message no instance delivers (undecodable), so frame 2 is only in history."""
    return b"\xc1"


async def test_without_history_a_broadcast_carries_no_offset(broker):
    async with instances(broker) as (a, _), opened(a.ws("11")) as (ws, welcome):
        assert "position" not in welcome
        await edit(ws, 1)
        assert "offset" not in await frame(ws)


async def test_with_history_sync_publish_is_refused_with_a_clear_error(broker):
    async with instances(broker, history=True) as (a, _):
        with pytest.raises(Exception, match="keeps history"):
            a.wsns.publish("/maps/12", "edited", 1)


def test_broker_unavailable_is_what_a_history_broadcast_raises_without_redis():
    assert issubclass(BrokerUnavailable, Exception)


def _json(data: Any) -> str:
    return json.dumps(data)


async def test_a_returning_client_that_does_not_read_what_it_missed_is_closed_1013_others_go_on(broker):
    """Its welcome and missed frames go out in one write (``Client.write_many``), bounded
    after queueing as every write: 14 MB missed, a 2 MiB send queue, a client that never
    reads (the kernel's buffers on loopback hold a few MiB at most)."""
    queue = 2 * 2**20
    async with instances(broker, count=1, history=History(max_bytes=32 * 2**20),
                         max_send_queue=queue) as (a,), opened(a.ws("8")) as (stays, welcome):
        for n in range(16):  # one at a time: the client that stays reads each
            await a.wsns.broadcast("/maps/8", "edited", f"{n}:" + "x" * 900_000)
            await until_data(stays, f"{n}:" + "x" * 900_000)
        sleeper, again = await join_sleeper(a.ws("8", since(welcome["position"])), max_queue=1,
                                            max_size=2**20)
        sleeper.transport.pause_reading()
        assert again["recovered"] is True
        await wait_for(lambda: a.totals["dropped"].get("slow_consumer", 0) == 1)
        await a.wsns.broadcast("/maps/8", "edited", "after")
        assert (await until_data(stays, "after"))["offset"] == 17
        sleeper.transport.abort()


async def until_data(ws: ClientConnection, data: str) -> dict[str, Any]:
    """The next ``edited`` frame carrying ``data`` (a bounded wait overall)."""
    async with asyncio.timeout(10):
        while (received := await frame(ws))["data"] != data:
            pass
    return received
