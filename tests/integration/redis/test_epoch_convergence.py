"""Pages converge when Redis loses every stream and the instances learn it at different times.

Two instances on one redis-server; Redis is killed and restarted empty (a new epoch). One
instance comes back first and its clients publish; the other is held away (its Redis
connections go through a proxy that refuses them) until those frames are published.
Whatever each instance learns and when, a page must end with every frame published after
the restart: applied, or covered by a ``resync`` (a re-fetch) that came after it, and
nothing dropped after its last re-fetch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from sanic_wsns.broker.redis_history import history_keys
from tests.integration.redis.test_recovery import frames, opened, since
from tests.integration.redis.test_recovery_faults import broadcast_when_up
from tests.support.gated_broker import GatedBroker, GatedRedisBroker
from tests.support.instances import frame, instances, until
from tests.support.servers import wait_for
from tests.support.tcp_proxy import tcp_proxy

PATH = "/maps/epoch"
WAIT = 15.0  # a reconnect backoff is capped at 5 s


class Page:
    """What a browser page holds of a namespace, kept as ``wsns.js`` keeps it: a frame at or
    below its position is a duplicate and dropped; a ``resync`` moves the position to the
    one it carries and makes the page re-fetch, which covers every frame published before."""

    def __init__(self, welcome: dict[str, Any]):
        self.offset = welcome["position"]["offset"]
        self.has: set[Any] = set()  # the data of every frame applied or re-fetched
        self.resyncs = 0

    def take(self, received: dict[str, Any], published: list[Any]) -> None:
        """``published``: the data of every frame published before ``received`` was sent."""
        if received["type"] == "resync":
            self.resyncs += 1
            self.has.update(published)
            if "position" in received["data"]:
                self.offset = received["data"]["position"]["offset"]
        elif received["type"] == "edited" and received["offset"] > self.offset:
            self.offset = received["offset"]
            self.has.add(received["data"])

    async def read_until(self, ws: ClientConnection, data: Any, published: list[Any]) -> None:
        """Take frames until the one carrying ``data`` (bounded)."""
        async with asyncio.timeout(WAIT):
            while True:
                received = await frame(ws, WAIT)
                self.take(received, published)
                if received.get("data") == data:
                    return


async def publish(instance: Any, data: list[str]) -> list[str]:
    for item in data:
        await broadcast_when_up(instance, PATH, item, timeout=WAIT)
    return data


async def test_an_instance_back_last_from_a_lost_redis_gets_what_was_published_meanwhile(redis_server):
    """Issue 21 item 14: B's Redis link is held away while A, back first, publishes the new
    epoch's first frames; B's clients still end with all of them, and with every later one."""
    async with tcp_proxy(redis_server.port) as proxy, \
            instances(redis_server.url, count=1, history=True) as (a,), \
            instances(proxy.url(), count=1, history=True) as (b,), \
            opened(a.ws("epoch")) as (alice, _), opened(b.ws("epoch")) as (bob, bob_welcome):
        page = Page(bob_welcome)
        before = await publish(a, [f"before-{n}" for n in range(5)])
        await page.read_until(bob, before[-1], [])
        assert page.has == set(before)
        proxy.refuse()
        redis_server.restart()  # no persistence: every stream and epoch is gone
        await wait_for(lambda: not b.broker["connected"], WAIT)
        assert (await until(alice, "resync", WAIT))["data"]["reason"] == "epoch_changed"
        lost = await publish(a, ["lost-0", "lost-1"])  # B's link is away: only history has them
        assert not b.broker["connected"]
        proxy.accept()
        async with asyncio.timeout(WAIT):
            while not page.resyncs:  # whatever B sends now, it sends after `lost` was published
                page.take(await frame(bob, WAIT), lost)
        after = await publish(a, [f"after-{n}" for n in range(3)])
        await page.read_until(bob, after[-1], lost)
        assert page.has >= {*lost, *after}


async def test_a_page_returning_while_its_instance_learns_the_new_epoch_converges(redis_server, monkeypatch):
    """Issue 21 items 14 and 15: a page comes back to B (with the old epoch's position) while
    B is learning the new epoch: B hears a new-epoch frame while the page's history read is
    held. The page gets B's resync and position, and every new-epoch frame after it."""
    monkeypatch.setattr(GatedBroker, "gated", "")
    GatedBroker.confirm, GatedBroker.asked = asyncio.Event(), asyncio.Event()
    async with instances(redis_server.url, count=2, history=True, broker_class=GatedRedisBroker) as (a, b), \
            opened(b.ws("epoch")) as (bob, _):
        await publish(a, [f"before-{n}" for n in range(5)])
        seen = (await frames(bob, 5))[-1]
        old = await b.wsns.position(PATH)
        assert seen["offset"] == old.offset
        # The stream is lost (its keys deleted: what a Redis restarted empty leaves).
        redis_server.cli("DEL", *history_keys(b.wsns.hub.channel(PATH)))
        GatedBroker.gated = "read_history"
        query = since({"offset": old.offset, "epoch": old.epoch})
        async with connect(b.ws("epoch", query), max_queue=None) as carol:
            await asyncio.wait_for(GatedBroker.asked.wait(), 5)  # its read is held
            new = await publish(a, ["new-0", "new-1"])  # numbered 1, 2 in a new epoch
            await until(bob, "resync", WAIT)  # B heard the new epoch and reset meanwhile
            GatedBroker.confirm.set()
            welcome = await frame(carol)
            assert welcome["type"] == "welcome" and welcome["data"]["recovered"] is False
            page = Page(welcome["data"])
            async with asyncio.timeout(WAIT):
                while not page.resyncs:
                    page.take(await frame(carol, WAIT), new)
            # Numbered 3.., at or below the old epoch's 5: a page still holding the old
            # position would take them for duplicates.
            after = await publish(a, [f"after-{n}" for n in range(4)])
            await page.read_until(carol, after[-1], new)
            assert page.has >= {*new, *after}
