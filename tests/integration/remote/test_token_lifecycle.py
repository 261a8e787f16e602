"""The Python client's side of core idea 15: it refreshes before expiry, reconnects once
with a fresh token after a 4001, and gives up when its ``token`` function fails."""

from __future__ import annotations

import asyncio

import pytest

from sanic_wsns import remote
from tests.integration.redis.test_expiry import LIFETIME, Gate, build, token
from tests.integration.remote.conftest import States
from tests.support.servers import serve


@pytest.fixture
async def server():
    app, wsns = build("memory://", Gate())
    async with serve(app) as running:
        yield running, wsns


class Tokens:
    """A ``token`` function that hands out ``script``'s answers in turn (a callable raises)."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls = 0
        self.called = asyncio.Event()

    def __call__(self) -> str:
        answer = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.called.set()
        if isinstance(answer, Exception):
            raise answer
        return answer() if callable(answer) else answer

    async def reach(self, calls: int) -> None:
        async with asyncio.timeout(LIFETIME * 4):
            while self.calls < calls:
                self.called.clear()
                await self.called.wait()


def fast(url: str, tokens: Tokens) -> remote.connect:
    return remote.connect(url, token=tokens, backoff_base=0.01, backoff_max=0.05)


async def test_the_client_refreshes_before_each_expiry_and_never_leaves_open(server):
    running, wsns = server
    tokens = Tokens(lambda: token("ann"))
    async with fast(running.ws("/ws/rooms/1"), tokens) as ns:
        states = States(ns)
        await tokens.reach(3)  # the upgrade, then two refreshes, each of a 2 s token
        assert states.names == [] and ns.state is remote.State.OPEN
    assert wsns.stats()["totals"]["disconnects"] == {}


async def test_a_refused_refresh_reconnects_once_with_a_fresh_token_then_a_4401_stops_it(server):
    running, wsns = server
    tokens = Tokens(lambda: token("ann"), lambda: token("ann", 60, "bad"))
    async with fast(running.ws("/ws/rooms/1"), tokens) as ns:
        states = States(ns)
        ending = await ns.wait_closed()
    assert ending.reason == "unauthenticated" and ending.code == 4401
    reconnecting = [e for name, e in states.seen if name == "reconnecting"]
    assert len(reconnecting) == 1 and reconnecting[0].code == 4001
    assert tokens.calls == 3  # upgrade, refresh (refused: 4001), the one reconnect (4401)
    assert wsns.stats()["totals"]["disconnects"] == {"refresh_refused": 1}


async def test_a_token_function_that_fails_at_refresh_stops_the_client(server):
    running, _ = server
    tokens = Tokens(lambda: token("ann"), RuntimeError("token service down"))
    async with fast(running.ws("/ws/rooms/1"), tokens) as ns:
        ending = await ns.wait_closed()
    assert ending.reason == "token_failed" and "token service down" in ending.message
    assert tokens.calls == 2


async def test_a_fixed_token_expires_with_4001_and_its_reconnect_is_refused_for_good(server):
    running, wsns = server
    fixed = token("ann")
    async with remote.connect(running.ws("/ws/rooms/1"), token=fixed, backoff_base=0.01) as ns:
        states = States(ns)
        ending = await asyncio.wait_for(ns.wait_closed(), LIFETIME * 4)
    assert (ending.reason, ending.message) == ("unauthenticated", "expired")
    assert [e.code for name, e in states.seen if name == "reconnecting"] == [4001]
    assert wsns.stats()["totals"]["disconnects"] == {"expired": 1}
