"""Connection opens per instance, whoever opens them (a reconnect storm: an instance died
and its clients all come here): over ``open_rate`` (and its burst) an upgrade is closed
with 1013 and a retry hint before anything exists; the clients already here are served."""

from __future__ import annotations

import re

from websockets.asyncio.client import connect

from tests.support.instances import frame, instances
from tests.support.wsclient import close_of


async def test_opens_over_the_instance_open_rate_get_1013_with_a_retry_hint_whoever_opens_them():
    async with instances("memory://", count=1, open_rate=0.001, open_burst=2) as (a,), \
            connect(a.ws("1", "name=ann")) as ann, connect(a.ws("1", "name=bob")) as bob:
        for ws in (ann, bob):
            assert (await frame(ws))["type"] == "welcome"
        async with connect(a.ws("2", "name=cid")) as third:  # another user: still over
            code, reason = await close_of(third)
        assert code == 1013
        hint = re.fullmatch(r"too many connections per second on this instance; retry_after=(\d+)", reason)
        assert hint, reason
        assert 900 < int(hint[1]) <= 1000  # one open per 1,000 s
        assert not a.wsns.has("/maps/2")  # refused before get-or-create
        assert a.totals["connections_refused"] == {"over_capacity": 1}
        # The clients already here are still served: a broadcast reaches both.
        await a.wsns.broadcast("/maps/1", "news", {"n": 1})
        for ws in (ann, bob):
            assert (await frame(ws))["type"] == "news"


async def test_the_open_rate_is_off_by_default():
    async with instances("memory://", count=1) as (a,):
        assert a.wsns.settings.open_rate is None
