"""The Python client over SSE (``transport="sse"``) against two real instances on one broker
(memory:// and a real Redis): the same guarantees as over a WebSocket (recovery on the other
instance is test_instances.py's, over both transports); requests POSTed to the instance that
does not hold the stream; a refusal is a denial."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sanic_wsns import History, Identity, Unauthorized, WsNamespaces, remote, testing
from tests.integration.remote.conftest import TIMEOUT, States, fast, next_frame, until_presence
from tests.support.instances import instances
from tests.support.ports import free_port
from tests.support.servers import new_app
from tests.support.tcp_proxy import tcp_proxy

#: Every instance signs and checks the stream's client token with it (WSNS_SSE_SECRET).
SECRET = "sse-test-secret"


def sse(url: str, **options: Any) -> remote.connect:
    return fast(url, transport="sse", **options)


async def test_a_request_posted_to_the_other_instance_is_answered_and_its_broadcast_arrives(broker):
    async with instances(broker, sse_secret=SECRET) as (a, b), tcp_proxy(a.srv.port) as proxy, \
            sse(f"http://127.0.0.1:{proxy.port}/maps/r2?name=ann") as ns:
        edited = ns.frames("edited")
        proxy.target_port = b.srv.port  # the stream stays on a; every POST now goes to b
        assert await ns.request("edit", {"n": 1}) is None
        assert (await next_frame(edited))["data"] == {"n": 1}
        assert a.totals["connections"] == 1 and b.totals["connections"] == 0


async def test_a_keyed_request_whose_post_failed_is_sent_again_after_the_reconnect_and_runs_once(broker):
    async with instances(broker, history=History(size=50), sse_secret=SECRET) as (a, b), \
            tcp_proxy(a.srv.port) as proxy, sse(f"http://127.0.0.1:{proxy.port}/maps/r3?name=ann") as ns:
        states, edited = States(ns), ns.frames("edited")
        proxy.target_port = free_port()  # the stream stays; a POST finds no instance behind the proxy
        asking = asyncio.ensure_future(ns.request("edit", "once"))
        await states.reach("reconnecting")  # a failed POST ends the attempt, as a dropped socket
        proxy.target_port = b.srv.port
        assert await asyncio.wait_for(asking, TIMEOUT) is None
        assert (await next_frame(edited))["data"] == "once"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(edited), 0.3)


async def test_over_sse_a_refused_stream_is_a_denial_with_the_servers_reason():
    async with instances("memory://sse-denial", sse_secret=SECRET) as (a, _):
        with pytest.raises(remote.Denied) as denied:
            await sse(a.srv.http + "/nowhere/1")
        assert denied.value.close_code == 4404


async def test_an_event_over_max_size_ends_the_stream_with_1009_and_the_client_comes_back():
    async with instances("memory://sse-too-big", sse_secret=SECRET) as (a, _), \
            sse(a.srv.http + "/maps/r4?name=ann", max_size=500) as ns:
        states, edited = States(ns), ns.frames("edited")
        await a.wsns.broadcast("/maps/r4", "edited", "x" * 1000)
        ending = await states.reach("reconnecting")
        assert ending is not None and ending.code == 1009
        await states.reach("open")
        await a.wsns.broadcast("/maps/r4", "edited", "small")
        assert (await next_frame(edited))["data"] == "small"


async def test_a_post_whose_handler_never_answers_fails_in_the_request_timeout_and_later_sends_go():
    app = new_app("sse_stuck")
    wsns = WsNamespaces(app)
    rooms = wsns.pattern("/rooms/<room_id:str>")
    stuck, release = asyncio.Event(), asyncio.Event()

    @rooms.on("wait")
    async def wait(ns: Any, client: Any, data: Any) -> None:
        stuck.set()
        await release.wait()

    @rooms.on("say")
    async def say(ns: Any, client: Any, data: Any) -> None:
        await ns.broadcast("said", data)

    async with testing.serve(app) as server, \
            sse(server.http + "/rooms/1", request_timeout=0.5) as ns:
        said = ns.frames("said")
        try:
            with pytest.raises((remote.Disconnected, remote.RequestTimeout)):
                async with asyncio.timeout(TIMEOUT):
                    await ns.request("wait", retry=False)
            assert stuck.is_set()
            await ns.send("say", "after")
            assert (await next_frame(said))["data"] == "after"
        finally:
            release.set()


async def test_a_post_refused_as_unauthenticated_comes_back_with_a_fresh_token_and_asks_again():
    app = new_app("sse_tokens")
    wsns = WsNamespaces(app)
    rooms = wsns.pattern("/rooms/<room_id:str>")
    valid = {"t1", "t2"}
    issued = iter(["t1", "t2"])

    @rooms.authorize
    def by_token(request: Any, room_id: str) -> Identity:
        if request.ctx.wsns_token not in valid:
            raise Unauthorized("token expired")
        return Identity("ann", {"name": "ann"}, user="ann")

    @rooms.on("make")
    async def make(ns: Any, client: Any, data: Any) -> str:
        return "made"

    async with testing.serve(app) as server, \
            sse(server.http + "/rooms/1", token=lambda: next(issued)) as ns:
        states = States(ns)
        valid.discard("t1")  # the attempt's token runs out while its stream is still open
        assert await ns.request("make") == "made"
        ending = await states.reach("reconnecting")
        assert ending is not None and ending.code == 4001
        assert states.names == ["reconnecting", "open"]


async def test_over_sse_presence_shows_a_websocket_client_and_a_stream_on_the_other_instance(broker):
    async with instances(broker, presence=True, sse_secret=SECRET) as (a, b), \
            sse(a.srv.http + "/maps/p1?name=ann") as ann:
        await until_presence(ann, lambda: ann.client_id in ann.presence)
        async with fast(b.ws("p1", "name=bob")) as bob:
            await until_presence(ann, lambda: bob.client_id in ann.presence)
            await until_presence(bob, lambda: ann.client_id in bob.presence)
            assert dict(ann.presence) == dict(bob.presence) == {
                ann.client_id: {"name": "ann"}, bob.client_id: {"name": "bob"}}
            bob_id = bob.client_id
        await until_presence(ann, lambda: bob_id not in ann.presence)
