"""The Python client honours the server's retry hint: a 1013 "…; retry_after=N" (an
instance over its open rate in a reconnect storm) is retried no earlier than N s, plus the
backoff's jitter, instead of at the next backoff step (which hammered the instance)."""

from __future__ import annotations

from websockets.asyncio.client import connect

from sanic_wsns import remote
from tests.integration.remote.conftest import States
from tests.support.instances import frame, instances


async def test_a_client_refused_over_the_open_rate_comes_back_after_the_hint_not_before():
    # One open per second: the second client is refused with retry_after=1. Its own backoff
    # is under a millisecond and it gives up after 3 failures, so without the hint it spends
    # all three attempts inside the second the instance still refuses, and gives up.
    async with instances("memory://", count=1, open_rate=1.0, open_burst=1) as (a,), \
            connect(a.ws("1", "name=ann")) as ann:
        assert (await frame(ann))["type"] == "welcome"
        attempt = remote.connect(a.ws("1", "name=bob"), backoff_base=0.001, backoff_max=0.001,
                                 max_attempts=3, connect_timeout=5.0, resync_jitter=0)
        states = States(attempt.namespace)
        async with attempt as bob:
            assert bob.state is remote.State.OPEN
        refused = [ending for state, ending in states.seen if state == "reconnecting"]
        assert len(refused) == 1 and refused[0] is not None and refused[0].code == 1013
        assert refused[0].message == "too many connections per second on this instance; retry_after=1"
        assert a.totals["connections_refused"] == {"over_capacity": 1}
