"""Which Redis server holds each channel, and one pub/sub link per server (``RedisBroker``'s
subscriptions, by role).

One follower task keeps links and routes equal to the topology. In a cluster it re-reads
the slot map (``CLUSTER SLOTS``, through redis-py's nodes manager) when a link drops, when
a server drops or refuses a channel (its slot moved: ``sunsubscribe`` push, ``MOVED``), and
every ``TOPOLOGY_REFRESH`` seconds; then it gives each new master a link, moves every
channel whose slot changed owner, waits for the new owner's confirmation, reports the moved
channels as restored (messages may have been missed meanwhile), and stops links to servers
that are no longer masters. A failover or a resharding is so followed without a restart.

It is the links' ``LinkOwner``: what they hear goes to ``received`` and ``restored``, the
broker's handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import SlotNotCoveredError

from .redis_link import Mode, PubSubLink, backoff, describe

logger = logging.getLogger("sanic_wsns")

#: Cluster: seconds between slot-map checks while all is well, and while some channel
#: waits for its owner (a failover in progress takes about two node timeouts).
TOPOLOGY_REFRESH = 10.0
TOPOLOGY_RETRY = 0.5
#: The single server's link name (a cluster's links are named by node, host:port).
SINGLE = "redis"


class Topology:
    """Links and routes for one broker; see the module docstring."""

    def __init__(self, commands: Mode, cluster: bool, probe_interval: float,
                 received: Callable[[str, bytes], None], restored: Callable[[frozenset[str]], None],
                 note_error: Callable[[BaseException | None], None]):
        self.commands = commands
        self.cluster = cluster
        self.probe_interval = probe_interval
        self._received = received
        self._restored_to = restored
        self._note_error = note_error
        self._client: Redis | RedisCluster | None = None
        self._discovered = False
        self.links: dict[str, PubSubLink] = {}
        self._routes: dict[str, PubSubLink] = {}
        self.desired: set[str] = set()
        self._changed = asyncio.Event()
        self._discovery_tried = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.moved = 0

    @property
    def connected(self) -> bool:
        return bool(self.links) and all(link.up for link in self.links.values())

    def start(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._follower = asyncio.get_running_loop().create_task(self._follow(), name="wsns-redis-follower")

    async def started(self, discovery: float, first_attempts: float) -> None:
        """Wait (bounded, never raising) for the first discovery and connection attempts."""
        await within(discovery, self._discovery_tried.wait())
        await within(first_attempts, *(link.first_attempt.wait() for link in self.links.values()))

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
            self._follower = None
        await asyncio.gather(*(link.stop() for link in self.links.values()))
        self.links.clear()
        self._routes.clear()
        self.desired.clear()
        self._client = None

    def changed(self) -> None:
        """Something suggests the topology changed (a failed batch, a lost link): re-read it."""
        self._changed.set()

    # -- following ----------------------------------------------------------------------------

    async def _follow(self) -> None:
        """Keep links and routes equal to the topology, for the broker's lifetime."""
        attempt = 0
        while True:
            self._changed.clear()
            try:
                await self._refresh()
                attempt = 0
            except Exception as exc:  # redis-py's cluster errors are not all RedisError
                self._note_error(exc)
                if not self._discovered and attempt == 0:
                    logger.error("redis cluster unreachable (%s); running locally, retrying "
                                 "with backoff", describe(exc))
                attempt += 1
            self._discovery_tried.set()
            if not self._discovered:
                await asyncio.sleep(backoff(attempt))
            elif not self._settled():
                await asyncio.sleep(TOPOLOGY_RETRY)
            else:
                await within(TOPOLOGY_REFRESH if self.cluster else None, self._changed.wait())

    async def _refresh(self) -> None:
        """One round: learn the masters, open links to new ones, move channels whose owner
        changed, close links to servers that are no longer masters."""
        masters = await self._masters()
        first = not self._discovered
        self._discovered = True
        for name, make_connection in masters.items():
            if name not in self.links:
                link = PubSubLink(self, name, self.commands, make_connection, self.probe_interval)
                self.links[name] = link
                link.start()
        if first and self.cluster:
            logger.info("redis cluster discovered masters=%s", sorted(masters))
        moved = self._reroute()
        if moved:
            confirmed = await asyncio.gather(*(self._routes[c].subscribe(c) for c in moved))
            restored = [c for c, ok in zip(moved, confirmed, strict=True) if ok]
            self._restored(restored)
        for name, link in list(self.links.items()):
            if name not in masters and not link.desired:
                del self.links[name]
                await link.stop()
        self._check_recovered()

    async def _masters(self) -> dict[str, Callable[[], AbstractConnection]]:
        """Each master's name and how to open a pub/sub connection to it."""
        if not isinstance(self._client, RedisCluster):
            assert self._client is not None
            return {SINGLE: self._client.connection_pool.make_connection}
        cluster = self._client
        if self._discovered:
            await cluster.nodes_manager.initialize()  # re-read the slot map
        else:
            await cluster.initialize()

        def opener(node: Any) -> Callable[[], AbstractConnection]:
            return lambda: node.connection_class(**node.connection_kwargs)

        return {node.name: opener(node) for node in cluster.get_primaries()}

    def _reroute(self) -> list[str]:
        """Route every wanted channel to its owner's link; the channels that got a new
        route (they must be subscribed there)."""
        rerouted = []
        for channel in self.desired:
            owner = self.owner(channel)
            current = self._routes.get(channel)
            if owner is None or (current is owner and channel in owner.desired):
                continue  # no owner (a slot mid-move counts as a node down), or in place
            if current is not None and current is not owner:
                current.forget(channel)
                self.moved += 1
                logger.warning("redis channel %s moved from node=%s to node=%s; resubscribing",
                               channel, current.name, owner.name)
            self._routes[channel] = owner
            rerouted.append(channel)
        return rerouted

    def _settled(self) -> bool:
        """Nothing for the follower to do: every wanted channel is routed to a link that holds
        it and, in a cluster, is up (a lost master may be failing over to a replica; a single
        Redis's link just reconnects by itself), and no cluster link was lost."""
        if self.cluster and any(link.ever_up and not link.up for link in self.links.values()):
            return False
        for channel in self.desired:
            link = self._routes.get(channel)
            if link is None or channel not in link.desired or (self.cluster and not link.up):
                return False
        return True

    def _route(self, channel: str) -> PubSubLink | None:
        """The link that holds (or will hold) ``channel``; ``None`` before discovery.
        Remembered, so the unsubscribe goes where the subscribe went."""
        link = self._routes.get(channel) or self.owner(channel)
        if link is not None:
            self._routes[channel] = link
        return link

    def owner(self, channel: str) -> PubSubLink | None:
        """The link to the server that owns ``channel`` now (its slot's master in a cluster)."""
        if not isinstance(self._client, RedisCluster):
            return self.links.get(SINGLE)
        if not self.links:
            return None
        try:
            node = self._client.get_node_from_key(channel)
        except SlotNotCoveredError:
            return None
        return None if node is None else self.links.get(node.name)

    # -- subscriptions ------------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        self.desired.add(channel)
        link = self._route(channel)
        if link is not None:
            await link.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.desired.discard(channel)
        link = self._routes.pop(channel, None)
        if link is not None:
            await link.unsubscribe(channel)

    # -- what the links report (LinkOwner) ------------------------------------------------------

    def deliver(self, channel: str, payload: bytes) -> None:
        self._received(channel, payload)

    def link_up(self, link: PubSubLink, restored: frozenset[str], down_for: float | None) -> None:
        if down_for is not None:
            self.reconnects += 1
            # At warning, like the loss it ends: whoever saw "lost" must see "reachable again".
            logger.warning("redis reachable again after %.1fs node=%s; resubscribed %d channels",
                           down_for, link.name, len(restored))
        # They were subscribed while the link was down (or before it first came up):
        # whatever was published meanwhile did not reach this instance.
        self._restored(restored)
        self._check_recovered()

    def link_down(self, link: PubSubLink, exc: Exception, was_up: bool) -> None:
        self._note_error(exc)
        if was_up:
            logger.error("redis connection lost node=%s (%s); local delivery goes on, "
                         "reconnecting with backoff", link.name, describe(exc))
            self._changed.set()  # in a cluster, a replica may be taking over
        elif not link.ever_up and not link.first_attempt.is_set():
            logger.error("redis unreachable node=%s (%s); running locally, retrying with backoff",
                         link.name, describe(exc))

    def channel_lost(self, link: PubSubLink, channel: str, why: str) -> None:
        # The route stays: the follower compares it with the new owner (moved or not).
        if channel in self.desired:
            logger.warning("redis channel %s left node=%s (%s); following the topology",
                           channel, link.name, why)
            self._changed.set()

    def _restored(self, channels: Iterable[str]) -> None:
        channels = frozenset(channels)
        if channels:
            self._restored_to(channels)

    def _check_recovered(self) -> None:
        """Every link is up again: the last error is history."""
        if self.connected:
            self._note_error(None)


async def within(seconds: float | None, *waits: Coroutine[Any, Any, Any]) -> None:
    """Await ``waits`` for at most ``seconds``, without raising: start-up goes on regardless."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    if tasks:
        await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
