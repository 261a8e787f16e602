"""Broadcasts: isolation, exclusion, from HTTP handlers, and one bad client never hurting others."""

import asyncio
import json
import socket
import urllib.request

from sanic_wsns import remote, testing
from tests.support.core_app import build_app
from tests.support.servers import serve, wait_for
from tests.support.wsclient import join, join_sleeper, recv_json, request


def post(url: str, body: object) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        return json.loads(response.read())


async def next_frame(frames: remote.FrameStream) -> remote.Frame:
    async with asyncio.timeout(5):
        return await anext(frames)


async def test_a_broadcast_reaches_exactly_the_clients_of_its_namespace():
    app, _, _ = build_app()
    async with testing.serve(app) as server:
        a1, a2, b1 = [await server.connect(path) for path in ("/ws/async/1", "/ws/async/1", "/ws/async/2")]
        on_a1, on_a2, on_b1 = a1.frames(), a2.frames(), b1.frames()
        assert await a1.request("add", {"a": 1, "b": 1}) == 2
        assert await next_frame(on_a1) == {"type": "added", "data": 2}
        assert await next_frame(on_a2) == {"type": "added", "data": 2}
        assert await b1.request("add", {"a": 5, "b": 5}) == 10
        assert await next_frame(on_b1) == {"type": "added", "data": 10}
        # a2's next frame is room 1's next broadcast, not room 2's
        assert await a1.request("add", {"a": 1, "b": 2}) == 3
        assert await next_frame(on_a2) == {"type": "added", "data": 3}


async def test_exclude_skips_the_sender():
    app, _, _ = build_app()
    async with testing.serve(app) as server:
        a, b = await server.connect("/ws/open/x"), await server.connect("/ws/open/x")
        on_a, on_b = a.frames(), b.frames()
        await a.send("say", "hi")
        assert await next_frame(on_b) == {"type": "said", "data": "hi"}
        # a's next frame is b's "said", not its own
        await b.send("say", "back")
        assert await next_frame(on_a) == {"type": "said", "data": "back"}


async def test_an_http_handler_can_broadcast_by_pattern_params():
    app, _, _ = build_app()
    async with testing.serve(app) as server:
        ns = await server.connect("/ws/async/5")
        notified = ns.frames()
        await asyncio.to_thread(post, server.http + "/notify/5", {"hello": "world"})
        assert await next_frame(notified) == {"type": "notified", "data": {"hello": "world"}}


async def test_broadcast_to_a_namespace_nobody_hosts_is_harmless(core):
    server, wsns, _ = core
    assert await asyncio.to_thread(post, server.http + "/notify/6", {"x": 1}) == {"ok": True}
    await wsns.broadcast("/ws/async/6", "anyone", 1)
    assert len(wsns.registry) == 0


async def test_a_client_that_never_reads_is_closed_1013_while_others_get_everything_in_order():
    app, wsns, _ = build_app(max_send_queue=64 * 1024, rate_limit=10_000, rate_burst=10_000)
    async with serve(app) as server:
        sleeper, welcome = await join_sleeper(server.ws("/ws/open/slow"))
        [sleeper_here] = wsns.get("/ws/open/slow").clients.values()
        reader, _ = await join(server.ws("/ws/open/slow"))
        sender, _ = await join(server.ws("/ws/open/slow"))
        # Stop reading on the sleeper's side: its kernel buffers and then ours fill up.
        sleeper.transport.pause_reading()
        received: list[int] = []

        async def read_all() -> None:
            while len(received) < 400:
                frame = await recv_json(reader)
                received.append(len(frame["data"]))

        reading = asyncio.create_task(read_all())
        for i in range(400):
            await sender.send(json.dumps({"type": "big", "data": 10_000 + i}))
        await asyncio.wait_for(reading, 20)
        assert received == [10_000 + i for i in range(400)]
        await wait_for(lambda: len(wsns.get("/ws/open/slow")) == 2)
        assert sleeper_here.id == welcome["client_id"] and sleeper_here.close_code == 1013
        assert wsns.stats()["totals"]["dropped"]["slow_consumer"] == 1
        await reader.close()
        await sender.close()


async def test_one_frame_twice_the_send_queue_closes_a_client_that_never_reads_1013():
    """The bound holds for a single huge frame (an oversized snapshot, say): it is checked
    after queueing. The frame is large enough that the kernel's socket buffers (a few MiB
    on loopback) cannot hide it."""
    queue = 8 * 1024 * 1024
    app, wsns, _ = build_app(max_send_queue=queue)
    async with serve(app) as server:
        sleeper, welcome = await join_sleeper(server.ws("/ws/open/huge"))
        [sleeper_here] = wsns.get("/ws/open/huge").clients.values()
        other, _ = await join(server.ws("/ws/open/huge"))
        sleeper.transport.pause_reading()
        await sleeper.send(json.dumps({"type": "big-to-me", "data": 2 * queue}))
        await wait_for(lambda: len(wsns.get("/ws/open/huge")) == 1)
        assert sleeper_here.id == welcome["client_id"] and sleeper_here.close_code == 1013
        assert wsns.stats()["totals"]["dropped"]["slow_consumer"] == 1
        await other.send(json.dumps({"type": "add", "data": {"a": 1, "b": 2}}))
        assert await recv_json(other) == {"type": "added", "data": 3}
        await other.close()


async def test_a_client_that_vanishes_mid_broadcast_does_not_disturb_the_others(core):
    server, wsns, events = core
    ghost, _ = await join(server.ws("/ws/open/v"))
    stayer, _ = await join(server.ws("/ws/open/v"))
    sender, _ = await join(server.ws("/ws/open/v"))
    for i in range(50):
        await sender.send(json.dumps({"type": "say", "data": str(i)}))
        if i == 10:
            ghost.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            ghost.transport.abort()  # RST, no close frame
    assert [(await recv_json(stayer))["data"] for _ in range(50)] == [str(i) for i in range(50)]
    await wait_for(lambda: len(wsns.get("/ws/open/v")) == 2)
    assert any(kind == "disconnect" for kind, _ in events)
    await stayer.close()
    await sender.close()


async def test_order_is_kept_for_many_broadcasts_to_many_clients():
    app, _, _ = build_app(rate_limit=10_000, rate_burst=10_000)
    async with serve(app) as server:
        clients = [(await join(server.ws("/ws/open/order")))[0] for _ in range(10)]
        for i in range(1000):
            await clients[0].send(json.dumps({"type": "add", "data": {"a": i, "b": 0}}))
        for ws in clients:
            assert [(await recv_json(ws))["data"] for _ in range(1000)] == list(range(1000))
        for ws in clients:
            await ws.close()


async def test_client_send_reaches_only_that_client():
    app, wsns, _ = build_app()
    direct = wsns.pattern("/ws/direct")

    @direct.on("poke")
    async def poke(ns, client) -> None:
        await client.send("poked", {"you": client.id})

    async with serve(app) as server:
        a, welcome = await join(server.ws("/ws/direct"))
        b, _ = await join(server.ws("/ws/direct"))
        await a.send('{"type": "poke"}')
        assert await recv_json(a) == {"type": "poked", "data": {"you": welcome["client_id"]}}
        assert (await request(b, "ping", id=1))["type"] == "pong"
        await a.close()
        await b.close()


async def test_client_send_needs_no_await_and_awaited_it_answers_the_same():
    """``client.send`` queues the frame at once, as Phoenix's ``push`` does; ``await
    client.send(...)`` (0.1's coroutine) still works and gives a ``bool``."""
    app, wsns, _ = build_app()
    direct = wsns.pattern("/ws/direct")
    answers: list[object] = []

    @direct.on("poke")
    def poke(ns, client) -> None:
        sent = client.send("poked", 1)
        answers.append(bool(sent))

    @direct.on("poke-awaited")
    async def poke_awaited(ns, client) -> None:
        answers.append(await client.send("poked", 2))

    async with serve(app) as server:
        a, _ = await join(server.ws("/ws/direct"))
        await a.send('{"type": "poke"}')
        assert await recv_json(a) == {"type": "poked", "data": 1}
        await a.send('{"type": "poke-awaited"}')
        assert await recv_json(a) == {"type": "poked", "data": 2}
        assert answers == [True, True]
        assert wsns.stats()["totals"]["messages_out"] >= 2
        await a.close()
