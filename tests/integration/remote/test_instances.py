"""The Python client against two instances on one broker (memory:// and a real Redis):
recovery without gap or duplicate when it reconnects to the other instance while frames
are being published (over a WebSocket and over SSE), and presence joins and leaves in
``ns.presence``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sanic_wsns import History, remote
from tests.integration.remote.conftest import TIMEOUT, States, fast, until_presence
from tests.support.instances import instances
from tests.support.tcp_proxy import tcp_proxy

FRAMES = 60


#: Every instance signs and checks an SSE stream's client token with it (WSNS_SSE_SECRET).
SSE_SECRET = "sse-test-secret"


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_a_reconnect_to_the_other_instance_recovers_every_frame_once_in_order(broker, transport):
    scheme = "ws" if transport == "websocket" else "http"
    url = f"{scheme}://127.0.0.1:{{}}/maps/r1?name=ann"
    async with instances(broker, history=History(size=500), sse_secret=SSE_SECRET) as (a, b), \
            tcp_proxy(a.srv.port) as proxy, fast(url.format(proxy.port), transport=transport) as ns:
        states, received = States(ns), list[tuple[int, Any]]()
        resyncs = ns.frames("resync")
        some, all_of_them, cut = asyncio.Event(), asyncio.Event(), asyncio.Event()

        def edited(data: Any, frame: remote.Frame) -> None:
            received.append((frame["offset"], data))
            if len(received) == 10:
                some.set()
            if len(received) == FRAMES:
                all_of_them.set()

        ns.on("edited", edited)

        async def publish() -> None:  # from instance b, never the client's first one
            for n in range(1, FRAMES + 1):
                if n == 21:
                    await cut.wait()  # the rest goes out while the client is away or back
                await b.wsns.broadcast("/maps/r1", "edited", n)
                await asyncio.sleep(0)

        publisher = asyncio.ensure_future(publish())
        await asyncio.wait_for(some.wait(), TIMEOUT)
        proxy.target_port = b.srv.port  # the load balancer sends the reconnect to b
        proxy.cut()
        cut.set()
        await asyncio.wait_for(all_of_them.wait(), TIMEOUT)
        await publisher
        assert received == [(n, n) for n in range(1, FRAMES + 1)]
        assert states.names == ["reconnecting", "open"] and ns.welcome["recovered"] is True
        assert ns.position == remote.Position(FRAMES, ns.welcome["position"]["epoch"])
        with pytest.raises(TimeoutError):  # no resync: recovered, nothing to re-fetch
            await asyncio.wait_for(anext(resyncs), 0.2)


async def test_presence_shows_joins_and_leaves_on_either_instance(broker):
    async with instances(broker, presence=True) as (a, b), fast(a.ws("p1", "name=ann")) as ann:
        await until_presence(ann, lambda: ann.client_id in ann.presence)
        async with fast(b.ws("p1", "name=bob")) as bob:
            await until_presence(ann, lambda: bob.client_id in ann.presence)
            await until_presence(bob, lambda: len(bob.presence) == 2)
            assert dict(ann.presence) == dict(bob.presence) == {
                ann.client_id: {"name": "ann"}, bob.client_id: {"name": "bob"}}
            bob_id = bob.client_id
        await until_presence(ann, lambda: bob_id not in ann.presence)
        assert dict(ann.presence) == {ann.client_id: {"name": "ann"}}
        with pytest.raises(TypeError):
            ann.presence["someone"] = {"name": "eve"}  # type: ignore[index]


async def test_a_reconnect_replaces_presence_with_the_fresh_state(broker):
    async with instances(broker, presence=True) as (a, b), \
            fast(a.ws("p2", "name=ann")) as ann, fast(b.ws("p2", "name=bob")) as bob:
        await until_presence(ann, lambda: len(ann.presence) == 2)
        changes: list[remote.PresenceChange] = []
        ann.on("presence", lambda presence, change: changes.append(change))
        old_id = ann.client_id
        ann.drop()  # reconnects at once, with a new client id
        await until_presence(ann, lambda: ann.client_id != old_id and ann.client_id in ann.presence
                             and old_id not in ann.presence)
        assert dict(ann.presence) == {ann.client_id: {"name": "ann"}, bob.client_id: {"name": "bob"}}
        # Told through the listener too: by the fresh state, or by a diff if the server saw
        # the cut connection only after sending that state.
        assert any(change.leaves.get(old_id) == {"name": "ann"} for change in changes)
