"""Scale-out modes: sharded pub/sub on one Redis, and a three-master Redis Cluster."""

from __future__ import annotations

from contextlib import AsyncExitStack

from tests.support.instances import PREFIX, channels, client, instances, numsub
from tests.support.servers import wait_for


async def test_sharded_mode_uses_shard_channels_end_to_end(redis_server):
    async with instances(redis_server.url, redis_sharded=True) as (a, b):
        async with client(a.ws("5")) as alice, client(b.ws("5")) as bob:
            assert a.broker["mode"] == "sharded"
            assert numsub(redis_server, PREFIX + "/maps/5", sharded=True) == 2
            assert channels(redis_server, sharded=True) == {PREFIX + "/maps/5", PREFIX + "control"}
            assert channels(redis_server) == set()  # nothing on classic pub/sub
            await alice.edit("sharded")
            assert (await bob.until("edited"))["data"] == "sharded"
            await a.wsns.broadcast("/maps/5", "edited", "from rest")
            assert (await bob.until("edited"))["data"] == "from rest"
        await wait_for(lambda: numsub(redis_server, PREFIX + "/maps/5", sharded=True) == 0)


async def test_cluster_mode_spreads_namespaces_over_the_masters_of_their_slots(redis_cluster):
    map_ids = [str(n) for n in range(12)]
    owners = {m: redis_cluster.node_for(PREFIX + f"/maps/{m}") for m in map_ids}
    assert len({node.port for node in owners.values()}) == 3, "these ids cover every master"

    async with instances(redis_cluster.url) as (a, b), AsyncExitStack() as stack:
        assert a.broker["mode"] == "cluster" and a.broker["connected"]
        assert len(a.broker["nodes"]) == 3
        on_b = {m: await stack.enter_async_context(client(b.ws(m))) for m in map_ids}
        on_a = {m: await stack.enter_async_context(client(a.ws(m))) for m in map_ids}
        # Each channel is subscribed on the master owning its slot, by both instances.
        for m, node in owners.items():
            assert numsub(node, PREFIX + f"/maps/{m}", sharded=True) == 2

        for m in map_ids:
            await on_a[m].edit(f"edit {m}")
        for m in map_ids:
            assert (await on_b[m].until("edited"))["data"] == f"edit {m}"
            assert (await on_a[m].until("edited"))["data"] == f"edit {m}"
        await b.wsns.broadcast("/maps/0", "edited", "rest via cluster")
        assert (await on_a["0"].until("edited"))["data"] == "rest via cluster"
        assert a.broker["publish_failed"] == b.broker["publish_failed"] == 0

        await stack.aclose()  # every client leaves: every shard subscription goes
        for m, node in owners.items():
            await wait_for(lambda m=m, node=node: numsub(node, PREFIX + f"/maps/{m}", sharded=True) == 0)


async def test_cluster_unreachable_at_start_is_joined_when_it_comes_up(redis_cluster):
    for node in redis_cluster.nodes:
        node.stop()
    async with instances(redis_cluster.url, count=1) as (a,):
        assert a.broker["connected"] is False
        async with client(a.ws("1")) as ann:
            for node in redis_cluster.nodes:
                node.start()
            await ann.until("resync", timeout=15)
            # The channel's own link may be back before the links to the other masters.
            await wait_for(lambda: a.broker["connected"], timeout=15)
            assert numsub(redis_cluster.node_for(PREFIX + "/maps/1"), PREFIX + "/maps/1", sharded=True) == 1
