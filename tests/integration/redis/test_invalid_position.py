"""A malformed ``since``/``epoch`` on a returning client's URL is answered on the spot:
``recovered: false`` and a ``resync`` with reason ``invalid_position``, without a broker
read, without a warning, counted under its own reason (not as an outage)."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect

from tests.support.instances import edit, frame, instances


def script_calls(redis_server) -> int:
    """Script calls (EVALSHA/EVAL) Redis has served: every history read is one."""
    stats = redis_server.cli("INFO", "commandstats")
    return sum(int(line.split("calls=")[1].split(",")[0]) for line in stats.splitlines()
               if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")))


@pytest.mark.parametrize("since, epoch", [
    ("-1", "EPOCH"), ("abc", "EPOCH"), ("1.5", "EPOCH"), ("1e30", "EPOCH"), ("9" * 40, "EPOCH"),
    ("1", "e" * 5000), ("1", "not an epoch"),
])
async def test_a_malformed_position_gets_invalid_position_without_touching_redis(
        redis_server, caplog, since, epoch):
    async with instances(redis_server.url, count=1, history=True) as (a,), connect(a.ws("1")) as stays:
        position = (await frame(stays))["data"]["position"]
        await edit(stays, "x")
        await frame(stays)
        query = f"since={quote(since)}&epoch={quote(epoch.replace('EPOCH', position['epoch']))}"
        calls = script_calls(redis_server)
        with caplog.at_level(logging.WARNING, logger="sanic_wsns"):
            async with connect(a.ws("1", query)) as back:
                welcome = await frame(back)
                assert welcome["type"] == "welcome" and welcome["data"]["recovered"] is False
                assert await frame(back) == {"type": "resync", "data": {"reason": "invalid_position"}}
        assert script_calls(redis_server) == calls
        assert not [r for r in caplog.records if r.name == "sanic_wsns"], caplog.text
        assert a.totals["resyncs"] == {"invalid_position": 1}
