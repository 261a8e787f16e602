"""Connection churn per user: over ``connect_rate`` (and its burst) an upgrade is closed
with 1013 and a retry hint before anything exists; other users are served meanwhile."""

from __future__ import annotations

import re

from websockets.asyncio.client import connect

from tests.support.instances import frame, instances
from tests.support.wsclient import close_of


async def test_a_user_over_its_connect_rate_gets_1013_with_a_retry_hint_and_others_still_connect():
    async with instances("memory://", count=1, connect_rate=0.001, connect_burst=2) as (a,), \
            connect(a.ws("1", "name=ann")) as one, connect(a.ws("1", "name=ann")) as two:
        for ws in (one, two):
            assert (await frame(ws))["type"] == "welcome"
        async with connect(a.ws("2", "name=ann")) as third:
            code, reason = await close_of(third)
        assert code == 1013
        hint = re.fullmatch(r"too many connections per second; retry_after=(\d+)", reason)
        assert hint, reason
        assert 900 < int(hint[1]) <= 1000  # one connection per 1,000 s
        assert not a.wsns.has("/maps/2")  # refused before get-or-create
        async with connect(a.ws("2", "name=bob")) as bob:
            assert (await frame(bob))["type"] == "welcome"
        assert a.totals["connections_refused"] == {"over_capacity": 1}
