"""The Python client keeps its namespace: it reconnects after drops (full-jitter backoff),
finds dead connections by its heartbeat, holds sends while offline (bounded), and asks
the app to re-fetch after a reconnect it could not recover."""

from __future__ import annotations

import asyncio

import pytest

from sanic_wsns import remote
from tests.integration.remote.conftest import States, fast, next_frame
from tests.support.core_app import build_app
from tests.support.ports import free_port
from tests.support.servers import serve
from tests.support.tcp_proxy import tcp_proxy


async def test_a_drop_reconnects_and_resyncs_when_the_namespace_keeps_no_history(core):
    server, _wsns, _events = core
    async with tcp_proxy(server.port) as proxy, fast(f"ws://127.0.0.1:{proxy.port}/ws/open/d") as ns:
        states = States(ns)
        resyncs = ns.frames("resync")
        first_id = ns.client_id
        proxy.cut()
        assert (await states.reach("reconnecting")).reason == "connection_lost"
        await states.reach("open")
        assert await next_frame(resyncs) == {"type": "resync", "data": {"reason": "reconnected"}}
        assert ns.client_id != first_id and proxy.connections == 2
        assert await ns.request("add", {"a": 1, "b": 1}) == 2


async def test_a_frozen_connection_is_found_by_the_heartbeat_and_replaced(core):
    server, _wsns, _events = core
    heartbeat = remote.Heartbeat(interval=0.2, timeout=0.3)
    async with tcp_proxy(server.port) as proxy, \
            fast(f"ws://127.0.0.1:{proxy.port}/ws/open/h", heartbeat=heartbeat) as ns:
        states = States(ns)
        proxy.freeze()  # no close, no error: only the missing pong tells
        assert (await states.reach("reconnecting")).reason == "heartbeat_timeout"
        await states.reach("open")
        assert await ns.request("add", {"a": 2, "b": 2}) == 4


async def test_sends_made_offline_are_bounded_then_flushed_in_order(core):
    server, _wsns, _events = core
    async with tcp_proxy(server.port) as proxy, \
            fast(server.ws("/ws/open/q")) as listener, \
            fast(f"ws://127.0.0.1:{proxy.port}/ws/open/q", queue_limit=3,
                 backoff_base=60, backoff_max=60) as speaker:
        states = States(speaker)
        heard = listener.frames("said")
        proxy.cut()
        await states.reach("reconnecting")  # and waits a minute, unless woken
        for word in ("one", "two", "three"):
            await speaker.send("say", word)
        with pytest.raises(remote.QueueFull) as raised:
            await speaker.send("say", "four")
        assert raised.value.code == "queue_full"
        speaker.reconnect_now()
        await states.reach("open")
        assert [(await next_frame(heard))["data"] for _ in range(3)] == ["one", "two", "three"]


async def test_a_request_made_while_offline_is_sent_once_open(core):
    server, _wsns, _events = core
    async with tcp_proxy(server.port) as proxy, \
            fast(f"ws://127.0.0.1:{proxy.port}/ws/open/o", backoff_base=60, backoff_max=60) as ns:
        states = States(ns)
        proxy.cut()
        await states.reach("reconnecting")
        reply = asyncio.ensure_future(ns.request("add", {"a": 3, "b": 4}))
        await asyncio.sleep(0)  # held, not written
        ns.reconnect_now()
        assert await asyncio.wait_for(reply, 5) == 7


async def test_a_server_that_is_not_there_yet_is_waited_for(core):
    server, _wsns, _events = core
    async with tcp_proxy(free_port()) as proxy:  # nothing listens there: refused
        attempt = fast(f"ws://127.0.0.1:{proxy.port}/ws/open/w")
        states = States(attempt.namespace)
        opening = asyncio.ensure_future(attempt.__aenter__())
        await states.reach("reconnecting")  # refused: retried, and connect still waits
        proxy.target_port = server.port  # the server is up
        ns = await asyncio.wait_for(opening, 5)
        assert ns.state == "open"
        await attempt.__aexit__(None, None, None)


async def test_query_headers_and_token_are_computed_before_every_attempt(core):
    server, _wsns, _events = core
    calls: list[str] = []

    async def query() -> dict[str, str]:
        calls.append("query")
        return {"user": f"try{calls.count('query')}"}

    def headers() -> dict[str, str]:
        calls.append("headers")
        return {"X-Try": str(len(calls))}

    async def token() -> str:
        calls.append("token")
        return "t0ken/+="

    async with tcp_proxy(server.port) as proxy, \
            fast(f"ws://127.0.0.1:{proxy.port}/ws/user/1", query=query, headers=headers, token=token) as ns:
        states = States(ns)
        assert (await ns.request("whoami"))["identity"] == "try1"
        proxy.cut()
        await states.reach("open")
        assert (await ns.request("whoami"))["identity"] == "try2"
    assert calls == ["query", "headers", "token"] * 2


async def test_a_failing_query_function_is_retried_with_reason_query_failed(core):
    server, _wsns, _events = core
    failures = iter([RuntimeError("token service down")])

    def query() -> dict[str, str]:
        for failure in failures:
            raise failure
        return {}

    attempt = fast(server.ws("/ws/open/f"), query=query)
    states = States(attempt.namespace)
    async with attempt as ns:
        assert ns.state == "open"
    assert states.seen[0][1].reason == "query_failed"
    assert "token service down" in states.seen[0][1].message


async def test_a_frame_over_max_size_closes_with_1009_and_the_client_reconnects(core):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/m"), max_size=1000) as ns:
        states = States(ns)
        await ns.send("big-to-me", 2000)  # the server sends this client a frame of 2000 bytes
        ending = await states.reach("reconnecting")
        assert (ending.reason, ending.code) == ("connection_lost", 1009)
        await states.reach("open")


async def test_a_frame_stream_left_unread_past_its_buffer_fails_with_overflow(core):
    server, _wsns, _events = core
    async with fast(server.ws("/ws/open/s")) as speaker, fast(server.ws("/ws/open/s")) as listener:
        stream, heard = listener.frames("said", buffer=2), listener.frames("said")
        for word in ("one", "two", "three"):
            await speaker.send("say", word)
        assert [(await next_frame(heard))["data"] for _ in range(3)] == ["one", "two", "three"]
        assert [(await next_frame(stream))["data"] for _ in range(2)] == ["one", "two"]
        with pytest.raises(remote.RemoteError) as raised:
            await next_frame(stream)
        assert raised.value.code == "overflow"


async def test_a_server_restart_on_the_same_port_is_reconnected_and_resynced():
    first_app, _wsns, _events = build_app()
    async with serve(first_app) as first:
        ns = await fast(first.ws("/ws/open/restart"))
        states, resyncs = States(ns), ns.frames("resync")
    try:
        ending = await states.reach("reconnecting")  # the server went away with its clients
        assert ending.code == 1001
        second_app, _wsns, _events = build_app()
        async with serve(second_app, port=first.port):
            await states.reach("open")
            assert await next_frame(resyncs) == {"type": "resync", "data": {"reason": "reconnected"}}
            assert await ns.request("add", {"a": 2, "b": 3}) == 5
    finally:
        await ns.close()


async def test_a_query_object_is_sent_on_every_attempt(core):
    server, _wsns, _events = core
    async with tcp_proxy(server.port) as proxy, \
            fast(f"ws://127.0.0.1:{proxy.port}/ws/user/2", query={"user": "obj"}) as ns:
        states = States(ns)
        assert (await ns.request("whoami"))["identity"] == "obj"
        proxy.cut()
        await states.reach("open")
        assert (await ns.request("whoami"))["identity"] == "obj"
