"""sanic_wsns.testing: an app on a real socket in the test's loop, clients to it, and
several servers that meet through one broker."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sanic import Request, Sanic

from sanic_wsns import Identity, WsNamespaces, remote, testing

_apps = itertools.count()


def chat_app(broker: str = "memory://", name: str | None = None) -> Sanic:
    """One pattern: the identity is the ``user`` cookie and an ``X-Nick`` header; ``say``
    is broadcast as ``said``; ``whoami`` answers the identity and the query."""
    app = Sanic(name or f"testing_{next(_apps)}")
    app.config.AUTO_EXTEND = False
    app.ctx.stopped = False
    wsns = WsNamespaces(app, broker=broker, unsubscribe_linger=0)
    rooms = wsns.pattern("/ws/rooms/<room:int>")

    @rooms.authorize
    def who(request: Request, room: int) -> Identity:
        return Identity({"user": request.cookies.get("user"), "nick": request.headers.get("x-nick"),
                         "query": dict(request.args)}, None)

    @rooms.on("say")
    async def say(ns, client, data: str) -> None:
        await ns.broadcast("said", data)

    @rooms.on("whoami")
    def whoami(ns, client) -> object:
        return client.identity

    @app.after_server_stop
    def stopped(app: Sanic) -> None:
        app.ctx.stopped = True

    return app


async def test_the_app_serves_a_free_port_and_its_clients_speak_the_protocol():
    app = chat_app()
    async with testing.serve(app) as server:
        assert server.port > 0 and server.url("/ws/rooms/1") == f"ws://127.0.0.1:{server.port}/ws/rooms/1"
        ns = await server.connect("/ws/rooms/1", cookies={"user": "ann", "theme": "dark"},
                                  headers={"X-Nick": "annie"}, query={"lang": "en"})
        assert ns.state == "open"
        assert await ns.request("whoami") == {"user": "ann", "nick": "annie", "query": {"lang": ["en"]}}
    assert app.ctx.stopped and ns.state == "closed"  # the block closed the client, then the app


async def test_the_same_app_name_can_be_served_again_after_the_block():
    for _ in range(2):
        async with testing.serve(chat_app(name="testing_same_name")) as server:
            assert (await server.connect("/ws/rooms/1")).state == "open"


async def test_a_foreign_origin_is_denied_and_the_servers_own_is_admitted():
    async with testing.serve(chat_app()) as server:
        with pytest.raises(remote.Denied) as denied:
            await server.connect("/ws/rooms/1", origin="https://evil.example")
        assert denied.value.close_code == 4403
        assert (await server.connect("/ws/rooms/1", origin=server.http)).state == "open"


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_two_servers_on_one_broker_behave_as_two_instances(request, backend):
    broker = (f"memory://testing-{next(_apps)}" if backend == "memory"
              else request.getfixturevalue("redis_server").url)
    async with testing.serve(chat_app(broker)) as a, testing.serve(chat_app(broker)) as b:
        ann, bob = await a.connect("/ws/rooms/5"), await b.connect("/ws/rooms/5")
        heard = bob.frames("said")
        await ann.send("say", "across")
        async with asyncio.timeout(5):
            assert (await anext(heard))["data"] == "across"


async def test_a_client_that_can_never_get_in_gives_up_instead_of_hanging():
    app = chat_app()

    @app.on_request
    def crash(request: Request) -> None:
        if request.path.startswith("/ws/"):
            raise RuntimeError("broken middleware")

    async with testing.serve(app) as server:
        with pytest.raises(remote.Closed) as closed:
            await asyncio.wait_for(server.connect("/ws/rooms/1"), 10)
    assert closed.value.details.reason == "gave_up"
