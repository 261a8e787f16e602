"""The Python client's requests and sends against the core test app: replies, the
server's error codes, timeouts, and a drop while a request waits."""

from __future__ import annotations

import asyncio

import pytest

from sanic_wsns import remote, testing
from tests.integration.remote.conftest import States, fast, next_frame
from tests.support.core_app import build_app


async def test_a_request_returns_its_reply_data(core):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/r")) as ns:
        assert ns.state == "open" and ns.client_id == ns.welcome["client_id"]
        assert await ns.request("add", {"a": 2, "b": 3}) == 5


@pytest.mark.parametrize(("type", "data", "code"), [
    ("conflict", 1, "conflict"),
    ("add", {"a": "two"}, "invalid_data"),
    ("nobody-handles-this", None, "unknown_type"),
    ("boom", None, "internal"),
])
async def test_an_error_answer_raises_request_error_with_the_protocol_code(core, type, data, code):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/r")) as ns:
        with pytest.raises(remote.RequestError) as raised:
            await ns.request(type, data)
    assert raised.value.code == code and raised.value.message
    if type == "conflict":
        assert raised.value.details == {"version": 2}


async def test_a_request_without_reply_in_time_raises_a_timeout_error(core):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/r")) as ns:
        with pytest.raises(TimeoutError) as raised:
            await ns.request("hold", timeout=0.2)  # the handler waits for a gate nobody opens
        assert isinstance(raised.value, remote.RequestTimeout) and raised.value.code == "timeout"
        server.app.ctx.gate.set()  # the server handles one client's messages in turn
        assert await ns.request("add", {"a": 1, "b": 1}) == 2  # the connection is still fine


async def test_with_retry_false_a_drop_while_a_request_waits_fails_it_with_disconnected(core):
    server, wsns, _events = core
    async with fast(server.ws("/ws/async/7")) as ns:
        states = States(ns)
        waiting = asyncio.ensure_future(ns.request("hold", retry=False))
        await asyncio.sleep(0)  # the request is written before the drop
        await wsns.remove_namespace("/ws/async/7", code=1012, reason="restarting")
        with pytest.raises(remote.Disconnected) as raised:
            await asyncio.wait_for(waiting, 5)
        assert raised.value.code == "disconnected"
        ending = await states.reach("reconnecting")
        assert ending == remote.Ending("connection_lost", 1012, "restarting")
        await states.reach("open")
        assert await ns.request("add", {"a": 1, "b": 2}) == 3


async def test_an_error_answering_a_send_reaches_the_error_listeners_and_frames(core):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/r")) as ns:
        errors: list[object] = []
        ns.on("error", lambda data, frame: errors.append(data))
        stream = ns.frames("error")
        await ns.send("nobody-handles-this", 1)
        frame = await next_frame(stream)
        assert frame["data"]["code"] == "unknown_type" and "id" not in frame
        assert errors == [frame["data"]]


async def test_broadcasts_reach_listeners_sync_and_async_and_every_frame_stream():
    app, _wsns, _events = build_app()
    async with testing.serve(app) as server:
        speaker, listener = await server.connect("/ws/open/b"), await server.connect("/ws/open/b")
        heard_sync: list[object] = []
        heard_async = asyncio.Queue[object]()
        listener.on("said", lambda data, frame: heard_sync.append(data))

        async def later(data: object, frame: object) -> None:
            await heard_async.put(data)

        listener.on("said", later)
        stream = listener.frames()
        await speaker.send("say", "hello")
        assert (await next_frame(stream)) == {"type": "said", "data": "hello"}
        assert await asyncio.wait_for(heard_async.get(), 5) == "hello"
        assert heard_sync == ["hello"]


async def test_a_frame_over_the_servers_limit_is_refused_before_sending(core):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/r")) as ns:
        limit = ns.welcome["limits"]["max_frame_size"]
        with pytest.raises(remote.TooBig):
            await ns.send("say", "x" * limit)
        assert await ns.request("add", {"a": 1, "b": 1}) == 2


async def test_after_close_sends_and_requests_raise_closed(core):
    server, _wsns, _events = core
    ns = await fast(server.ws("/ws/open/r"))
    await ns.close()
    assert ns.state == "closed" and ns.ending == remote.Ending("closed", 1000, "closed by the client")
    with pytest.raises(remote.Closed):
        await ns.send("say", "late")
    with pytest.raises(remote.Closed):
        await ns.request("add", {"a": 1, "b": 1})


async def test_namespaces_are_independent_and_connect_again_gives_a_fresh_one(core):
    server, _wsns, _events = core
    first, second = await fast(server.ws("/ws/open/i1")), await fast(server.ws("/ws/open/i2"))
    await first.close()
    assert second.state == "open" and await second.request("add", {"a": 1, "b": 1}) == 2
    again = await fast(server.ws("/ws/open/i1"))
    assert again.state == "open" and again.client_id != first.client_id
    await second.close()
    await again.close()
