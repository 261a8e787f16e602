"""Redis Cluster topology changes, followed without a restart (3 masters + 3 replicas).

Kill a master: its replica takes over, both instances move their subscriptions to it and
tell their clients to re-fetch (``resync``), and delivery resumes. Move a hosting slot to
another master: Redis drops the subscriptions (``sunsubscribe``), both instances subscribe
at the new owner and resync, and even an instance with a stale slot map still publishes
(redis-py follows ``MOVED``).
"""

from __future__ import annotations

import asyncio
import logging

from sanic_wsns.broker import redis_topology
from tests.support.instances import PREFIX, client, instances, numsub
from tests.support.servers import wait_for

#: A failover with a 1 s node timeout takes about 3 s; this bounds the whole repair.
RESUMED_WITHIN = 10.0


async def test_killing_the_master_of_a_hosting_slot_fails_over_and_delivery_resumes(redis_cluster, caplog):
    channel = PREFIX + "/maps/1"
    async with instances(redis_cluster.url, count=3) as (a, b, c), \
            client(a.ws("1")) as alice, client(b.ws("1")) as bob:
        await alice.edit("before")
        assert (await bob.until("edited"))["data"] == "before"
        master = redis_cluster.node_for(channel)
        replica = redis_cluster.replica_of(master)

        with caplog.at_level(logging.WARNING, logger="sanic_wsns"):
            master.kill()
            # The replica is promoted; each instance moves the channel to it, then resyncs.
            for ws in (alice, bob):
                assert (await ws.until("resync", timeout=RESUMED_WITHIN))["type"] == "resync"
        assert redis_cluster.node_for(channel) is replica
        assert numsub(replica, channel, sharded=True) == 2
        assert any(f"moved from node=127.0.0.1:{master.port}" in r.getMessage() for r in caplog.records)

        for name, sender in (("alice", alice), ("bob", bob)):
            await sender.edit(f"after, from {name}")
            for ws in (alice, bob):  # the sender's own copy included
                assert (await ws.until("edited"))["data"] == f"after, from {name}"
        # C hosts nothing: its link to the dead master dropped, so it re-read the slot map too.
        await wait_for(lambda: c.broker["connected"], timeout=RESUMED_WITHIN)
        await c.wsns.broadcast("/maps/1", "edited", "from c")
        assert (await alice.until("edited"))["data"] == "from c"
        for instance in (a, b, c):
            broker = instance.broker
            assert broker["connected"] and broker["last_error"] is None
            assert f"127.0.0.1:{master.port}" not in broker["nodes"]
        assert a.broker["moved"] == b.broker["moved"] == 1


async def test_moving_a_hosting_slot_moves_the_subscriptions_and_publishing_follows(
        redis_cluster, monkeypatch):
    # No periodic re-read of the slot map during the test: C and D must keep a stale one
    # however slowly this machine runs.
    monkeypatch.setattr(redis_topology, "TOPOLOGY_REFRESH", 3600.0)
    channel = PREFIX + "/maps/2"
    async with instances(redis_cluster.url, count=4) as (a, b, c, d), \
            client(a.ws("2")) as alice, client(b.ws("2")) as bob:
        source = redis_cluster.node_for(channel)
        target = next(m for m in redis_cluster.masters() if m is not source)
        await asyncio.to_thread(redis_cluster.move_slot, redis_cluster.slot(channel), target)

        # Redis dropped both subscriptions at the source; both instances follow to the target.
        for ws in (alice, bob):
            assert (await ws.until("resync", timeout=RESUMED_WITHIN))["type"] == "resync"
        assert numsub(target, channel, sharded=True) == 2
        assert numsub(source, channel, sharded=True) == 0
        assert a.broker["moved"] == b.broker["moved"] == 1

        await alice.edit("after the move")
        for ws in (alice, bob):
            assert (await ws.until("edited"))["data"] == "after the move"
        # C and D host nothing and still hold the old slot map. C's SPUBLISH meets MOVED,
        # which redis-py's pipeline follows to the new owner.
        await c.wsns.broadcast("/maps/2", "edited", "from c")
        for ws in (alice, bob):
            assert (await ws.until("edited"))["data"] == "from c"
        assert a.broker["publish_failed"] == b.broker["publish_failed"] == c.broker["publish_failed"] == 0
        # D's SSUBSCRIBE goes to the old owner, which refuses it (MOVED): D re-reads the slot
        # map, subscribes at the new owner, and tells its client what it may have missed.
        async with client(d.ws("2")) as dee:
            assert (await dee.until("resync", timeout=RESUMED_WITHIN))["type"] == "resync"
            assert numsub(target, channel, sharded=True) == 3
            await alice.edit("to dee")
            assert (await dee.until("edited"))["data"] == "to dee"
