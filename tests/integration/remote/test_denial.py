"""A refusal stops the Python client for good, with the reason (wsns.js's "denied"): from
``connect`` as the ``Denied`` exception, later as state ``denied`` and ``ns.denial``."""

from __future__ import annotations

import asyncio

import pytest

from sanic_wsns import remote
from tests.integration.remote.conftest import TIMEOUT, States, fast
from tests.support.tcp_proxy import tcp_proxy


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("room", "code", "reason"), [
    (401, 4401, "unauthenticated"), (403, 4403, "forbidden"), (404, 4404, "not_found")])
async def test_a_refused_first_attempt_raises_denied_and_makes_no_other(core, kind, room, code, reason):
    server, _wsns, _events = core
    async with tcp_proxy(server.port) as proxy:
        attempt = fast(f"ws://127.0.0.1:{proxy.port}/ws/{kind}/{room}")
        with pytest.raises(remote.Denied) as raised:
            await asyncio.wait_for(attempt, TIMEOUT)
        ns = attempt.namespace
        assert (raised.value.code, raised.value.close_code, raised.value.reason) == (
            reason, code, f"room {room} says no")
        assert ns.state == "denied" and ns.denial is not None and ns.denial.code == reason
        assert await ns.wait_closed() == remote.Ending(reason, code, f"room {room} says no")
        # connect returned after the client stopped: nothing is left to try again.
        assert proxy.connections == 1


async def test_a_path_no_pattern_matches_is_denied_not_found_from_its_http_404(core):
    server, _wsns, _events = core
    with pytest.raises(remote.Denied) as raised:
        await asyncio.wait_for(fast(server.ws("/no/such/namespace")), TIMEOUT)
    assert (raised.value.code, raised.value.close_code) == ("not_found", 4404)


async def test_a_denial_after_opening_stops_with_state_denied(core):
    server, wsns, _events = core
    async with fast(server.ws("/ws/async/8")) as ns:
        states = States(ns)
        pending = asyncio.ensure_future(ns.request("hold"))
        await asyncio.sleep(0)  # written before the denial
        await wsns.remove_namespace("/ws/async/8", code=4403, reason="membership revoked")
        assert await ns.wait_closed() == remote.Ending("forbidden", 4403, "membership revoked")
        assert states.names == ["denied"] and ns.denial is not None
        with pytest.raises(remote.Closed):
            await pending


@pytest.mark.parametrize(("code", "reason"), [(4410, "removed"), (1000, "server_closed"),
                                              (1008, "policy_violation")])
async def test_a_removal_a_normal_or_a_policy_close_is_final(core, code, reason):
    server, wsns, _events = core
    async with fast(server.ws("/ws/async/9")) as ns:
        await wsns.remove_namespace("/ws/async/9", code=code, reason="bye")
        assert await ns.wait_closed() == remote.Ending(reason, code, "bye")
        assert ns.state == "closed" and ns.denial is None


async def test_an_authorize_crash_is_retried_then_given_up_after_max_attempts(core):
    server, _wsns, _events = core
    attempt = fast(server.ws("/ws/sync/500"), max_attempts=2)
    states = States(attempt.namespace)
    with pytest.raises(remote.Closed) as raised:
        await asyncio.wait_for(attempt, TIMEOUT)
    ending = raised.value.details
    assert ending.reason == "gave_up" and ending.code == 1011
    assert states.names == ["reconnecting", "closed"]  # one state per change: 2 retries, then the end
