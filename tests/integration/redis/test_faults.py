"""Redis going away: at start, mid-traffic, and coming back, without restarting the apps."""

from __future__ import annotations

import logging
import re

import pytest

from sanic_wsns import BrokerUnavailable
from sanic_wsns.broker.redis import RedisBroker
from sanic_wsns.broker.redis_link import BACKOFF_CAP, BACKOFF_FIRST, backoff
from tests.support.instances import PREFIX, client, instances, numsub
from tests.support.servers import wait_for
from tests.support.tcp_proxy import tcp_proxy

CHANNEL = PREFIX + "/maps/1"


async def test_redis_killed_mid_traffic_then_restarted_resubscribes_resyncs_and_flows(redis_server, caplog):
    async with instances(redis_server.url) as (a, b), \
            client(a.ws("1")) as alice, client(b.ws("1")) as bob:
        await alice.edit("before")
        assert (await bob.until("edited"))["data"] == "before"
        assert (await alice.until("edited"))["data"] == "before"

        redis_server.kill()
        await wait_for(lambda: not a.broker["connected"] and not b.broker["connected"])
        assert a.wsns.stats()["broker"]["last_error"]
        # Local delivery goes on; the lost publications are counted, not raised.
        with caplog.at_level(logging.ERROR, logger="sanic_wsns"):
            for n in range(5):
                await alice.edit(f"during {n}")
                assert (await alice.until("edited"))["data"] == f"during {n}"
        assert a.broker["publish_failed"] == 5
        lost = [r for r in caplog.records if "publish failed" in r.getMessage()]
        assert len(lost) == 1, "one log line per outage, not one per publication"

        redis_server.start()
        # Both instances re-subscribe by themselves and tell their clients to re-fetch.
        assert (await alice.until("resync"))["data"] == {"reason": "broker_lost"}
        assert (await bob.until("resync"))["type"] == "resync"
        assert numsub(redis_server, CHANNEL) == 2
        assert a.broker["reconnects"] == b.broker["reconnects"] == 1
        assert a.broker["connected"] and b.broker["connected"]

        await alice.edit("after")
        assert (await bob.until("edited"))["data"] == "after"
        assert (await alice.until("edited"))["data"] == "after"
        await bob.edit("back")
        assert (await alice.until("edited"))["data"] == "back"


async def test_redis_down_at_start_the_app_runs_locally_and_joins_when_redis_comes(redis_server):
    redis_server.kill()
    async with instances(redis_server.url, count=1) as (a,):
        assert a.broker["connected"] is False
        assert a.broker["last_error"]
        async with client(a.ws("1")) as ann, client(a.ws("1")) as bea:
            await ann.edit("local")
            assert (await bea.until("edited"))["data"] == "local"
            assert a.broker["publish_failed"] == 1

            redis_server.start()
            assert (await ann.until("resync"))["type"] == "resync"
            assert (await bea.until("resync"))["type"] == "resync"
            assert a.broker["connected"]
            assert numsub(redis_server, CHANNEL) == 1

            async with instances(redis_server.url, count=1) as (b,), client(b.ws("1")) as cid:
                await ann.edit("shared")
                assert (await cid.until("edited"))["data"] == "shared"


def test_reconnect_backoff_grows_exponentially_with_jitter_and_is_capped_at_5_seconds():
    for attempt in range(30):
        ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2**attempt)
        delays = {backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling <= 5.0 for d in delays)
        assert len(delays) > 1  # jittered: instances do not reconnect in lockstep


async def test_a_strict_broadcast_raises_once_local_clients_have_it_while_redis_is_away(redis_server):
    async with instances(redis_server.url, count=1) as (a,), client(a.ws("1")) as ann:
        redis_server.kill()
        await wait_for(lambda: not a.broker["connected"])
        with pytest.raises(BrokerUnavailable):
            await a.wsns.broadcast("/maps/1", "news", "strict", strict=True)
        assert (await ann.until("news"))["data"] == "strict"
        await a.wsns.broadcast("/maps/1", "news", "lenient")  # counted and logged, not raised
        assert (await ann.until("news"))["data"] == "lenient"
        assert a.broker["publish_failed"] == 2


async def test_a_silent_pubsub_link_is_detected_probed_and_repaired_with_resync(redis_server, caplog):
    """A connection that stops carrying bytes without closing: only a probe notices it."""
    async with tcp_proxy(redis_server.port) as proxy, \
            instances(proxy.url() + "?probe_interval=0.5", count=1) as (a,), \
            instances(redis_server.url, count=1) as (b,), \
            client(a.ws("1")) as alice, client(b.ws("1")) as bob:
        await bob.edit("before")
        assert (await alice.until("edited"))["data"] == "before"
        # A's pub/sub link, and the connections of its script calls (its occupancy writes).
        assert proxy.connections >= 1

        proxy.freeze()
        await bob.edit("lost in the frozen link")
        # Silence, then PING, then no PONG: A reconnects through the proxy (new connections
        # flow), re-subscribes, and tells its client it may have missed messages.
        with caplog.at_level(logging.WARNING, logger="sanic_wsns"):
            resync = await alice.until("resync", timeout=10)
        assert resync["data"] == {"reason": "broker_lost"}
        # B, A's new link, and A's frozen one, which Redis cannot know is gone.
        assert numsub(redis_server, CHANNEL) == 3
        assert a.broker["reconnects"] == 1 and a.broker["connected"]
        assert a.broker["last_error"] is None
        assert any("silent link" in r.getMessage() for r in caplog.records)

        await bob.edit("after")
        assert (await alice.until("edited"))["data"] == "after"


async def test_recovery_is_logged_with_its_duration_and_clears_last_error(redis_server, caplog):
    broker = RedisBroker(redis_server.url, lambda c, p: None, lambda cs: None)
    await broker.connect()
    try:
        await broker.subscribe("ch1")
        await broker.subscribe("ch2")
        with caplog.at_level(logging.WARNING, logger="sanic_wsns"):
            redis_server.kill()
            await wait_for(lambda: not broker.connected)
            assert broker.stats()["last_error"]
            redis_server.start()
            await wait_for(lambda: broker.connected)
        lost = [r.getMessage() for r in caplog.records if "connection lost" in r.getMessage()]
        back = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
        assert len(lost) == 1 and len(back) == 1
        assert re.fullmatch(r"redis reachable again after \d+\.\ds node=redis; resubscribed 2 channels",
                            back[0])
        assert broker.stats()["last_error"] is None
        assert numsub(redis_server, "ch1") == numsub(redis_server, "ch2") == 1
    finally:
        await broker.disconnect()
