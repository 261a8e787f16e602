"""``redis://``, ``rediss://``, ``redis+cluster://``: Redis pub/sub between instances.

Three modes behind one broker (``redis_link.Mode`` holds each one's commands):

* ``pubsub`` (default): ``SUBSCRIBE``/``PUBLISH`` on one Redis.
* ``sharded`` (``sharded=True``, setting ``WSNS_REDIS_SHARDED``): ``SSUBSCRIBE``/``SPUBLISH``.
  On one Redis it behaves the same; it exists so a deployment can move to a cluster
  without changing what its instances speak.
* ``cluster`` (``redis+cluster://`` or ``rediss+cluster://``): always sharded; each channel
  lives on the master owning its hash slot, so channels spread over the cluster.

``RedisBroker`` is the façade over one module per job:

* ``redis_topology.Topology``: which server holds each channel, one ``PubSubLink``
  (``redis_link.py``) per master, followed through failovers and resharding;
* ``redis_outbox.Outbox``: every write (publish, numbered publish, request-key write) in
  call order, pipelined by one writer task;
* ``redis_calls.Calls``: awaited script calls in turn (history reads, presence);
* ``redis_history``, ``redis_presence``, ``redis_requests``: each role's keys, scripts and
  replies.

It assembles their counters for ``stats()`` and hands what the links hear to the handlers
the hub registered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..errors import BrokerUnavailable
from ..history import History, new_epoch
from ..occupancy import OccupancyStore
from ..presence import Entries
from ..recovery import Entry, Position
from . import redis_history, redis_presence, redis_requests
from .base import Broker, redact
from .redis_calls import Calls
from .redis_lane import CommandLane
from .redis_link import CLUSTER, PUBSUB, REDIS_FAILURES, SHARDED, describe
from .redis_outbox import Outbox, Outgoing
from .redis_scripts import seconds
from .redis_topology import Topology
from .urls import parse_broker_url

logger = logging.getLogger("sanic_wsns")

#: Default seconds of silence on a pub/sub link before it is probed with PING (and
#: seconds to wait for the answer): a silent link is repaired within twice this.
#: URL option ``?probe_interval=``.
PROBE_INTERVAL = 3.0
#: A command (a publish batch) without an answer in this time fails its connection, so a
#: silent publishing connection cannot hold the outbox forever.
COMMAND_TIMEOUT = 5.0
#: Longest wait at shutdown for queued payloads to leave.
DRAIN_TIMEOUT = 1.0
#: Socket connect timeout: an unreachable Redis must not stall start-up.
CONNECT_TIMEOUT = 2.0


class RedisBroker(Broker):
    """Redis pub/sub broker; see the module docstring for its modes and its parts."""

    scheme = "redis"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        address = parse_broker_url(self.url)
        self.cluster = address.cluster
        sharded = self.cluster or bool(self.options.get("sharded", False))
        self.commands = CLUSTER if self.cluster else SHARDED if sharded else PUBSUB
        self.mode = self.commands.name
        self.probe_interval = float(address.own_options.get("probe_interval", PROBE_INTERVAL))
        self._client_url = address.client_url
        self._client: Redis | RedisCluster | None = None
        self._topology = Topology(self.commands, self.cluster, self.probe_interval,
                                  self._deliver, self._restored, self._note_error)
        self._calls = Calls()
        self._outbox = Outbox(self.commands, self._topology.owner, self._calls.load,
                              self._note_error, self._topology.changed)
        self._received = 0
        self._last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._topology.connected

    async def connect(self) -> None:
        """Start the writer and the follower (which opens the links); wait for the first
        connection attempts (bounded), so a reachable Redis is subscribed-ready when the
        server starts."""
        client_options: dict[str, Any] = {
            # RESP2: subscribe confirmations arrive as ordinary replies (RESP3, redis-py's
            # default, turns them into push messages a bare connection does not return).
            "protocol": 2,
            # No hidden retries: a retried pipeline could publish a batch twice.
            "retry": Retry(NoBackoff(), 0),
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": COMMAND_TIMEOUT,
        }
        lane = None
        if self.cluster:
            self._client = RedisCluster.from_url(self._client_url, **client_options)
        else:
            self._client = Redis.from_url(self._client_url, **client_options)
            pool = self._client.connection_pool
            # The lane bounds each batch itself: its connection has no per-call timeout.
            lane_options = {**pool.connection_kwargs, "socket_timeout": None}
            lane = CommandLane(lambda: pool.connection_class(**lane_options), COMMAND_TIMEOUT)
        self._calls.client = self._client
        self._outbox.start(self._client, lane)
        self._topology.start(self._client)
        await self._topology.started(CONNECT_TIMEOUT * 4, CONNECT_TIMEOUT * 2)

    async def disconnect(self) -> None:
        if self.connected:
            await self._outbox.drain(DRAIN_TIMEOUT)
        await self._outbox.stop()
        await self._topology.stop()
        self._calls.client = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- subscriptions and what they bring ------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        await self._topology.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._topology.unsubscribe(channel)

    def _deliver(self, channel: str, payload: bytes) -> None:
        """A payload arrived from Redis: hand it to the core (whose errors are not ours)."""
        self._received += 1
        try:
            self._on_message(channel, payload)
        except Exception:
            logger.exception("broker message handler failed channel=%s", channel)

    def _restored(self, channels: frozenset[str]) -> None:
        try:
            self._on_restored(channels)
        except Exception:
            logger.exception("broker restored handler failed")

    def _note_error(self, exc: BaseException | None) -> None:
        """The last error, for ``stats()`` (``None``: every link is up again)."""
        self._last_error = None if exc is None else describe(exc)

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, channel: str, payload: bytes) -> bool:
        return self._outbox.publish(channel, payload)

    def publish_written(self, channel: str, payload: bytes) -> asyncio.Future[bool]:
        return self._outbox.publish_written(channel, payload)

    def publish_numbered(self, channel: str, frame_head: bytes, message: bytes,
                         history: History, once: str | None = None,
                         window: float = 0.0) -> asyncio.Future[Position]:
        return self._outbox.publish_numbered(channel, frame_head, message, history, once, window)

    # -- history and presence: one script call each ---------------------------------------

    async def read_history(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        reply = await self._calls.script(redis_history.READ_SCRIPT, redis_history.history_keys(channel),
                                         after, seconds(history.meta_ttl), new_epoch())
        return redis_history.parse_position(reply), redis_history.parse_entries(reply[2])

    async def presence_add(self, channel: str, entries: list[tuple[str, bytes]], ttl: float) -> list[str]:
        flat = [part for entry in entries for part in entry]
        reply = await self._calls.script(redis_presence.ADD_SCRIPT, redis_presence.presence_keys(channel),
                                         int(ttl * 1000), seconds(ttl * 2), *flat)
        return redis_presence.parse_ids(reply)

    async def presence_remove(self, channel: str, client_ids: list[str]) -> list[str]:
        reply = await self._calls.script(redis_presence.REMOVE_SCRIPT, redis_presence.presence_keys(channel),
                                         *client_ids)
        return redis_presence.parse_ids(reply)

    async def presence_expire(self, channel: str, limit: int) -> list[str]:
        reply = await self._calls.script(redis_presence.EXPIRE_SCRIPT, redis_presence.presence_keys(channel),
                                         limit)
        return redis_presence.parse_ids(reply)

    async def presence_get(self, channel: str) -> Entries:
        reply = await self._calls.script(redis_presence.GET_SCRIPT, redis_presence.presence_keys(channel))
        return redis_presence.parse_entries(reply)

    @property
    def occupancy(self) -> OccupancyStore:
        return redis_presence.RedisOccupancy(self._calls.script)

    # -- request keys: a claim before the handler, the answer after it -----------------------

    async def claim_request(self, channel: str, name: str, window: float) -> bytes | None:
        """On one server the claim goes with the writer's batches (``CommandLane``: a few
        calls, where a redis-py call cost a keyed request 2.4x an unkeyed one's CPU); a
        cluster's pipeline reads a raw ``SET``'s reply as a bool, so there it is a client call."""
        if not self._outbox.on_one_server:
            try:
                return await self._calls.call(
                    lambda client: redis_requests.claim(client, channel, name, window))
            except REDIS_FAILURES as exc:
                raise BrokerUnavailable(f"request key not claimed: {describe(exc)}") from exc
        claimed: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        words = redis_requests.claim_command(channel, name, window)
        if not self._outbox.enqueue(Outgoing(channel, b"", claimed, words=words)):
            raise BrokerUnavailable(f"request key not claimed on {channel}: redis is away")
        return await claimed

    def settle_request(self, channel: str, name: str, answer: bytes, window: float,
                       claimed: bool = True) -> None:
        words = redis_requests.settle_command(channel, name, answer, window, claimed)
        self._outbox.enqueue(Outgoing(channel, answer, words=words), wake=False)

    def release_request(self, channel: str, name: str) -> None:
        words = redis_requests.release_command(channel, name)
        self._outbox.enqueue(Outgoing(channel, b"", words=words), wake=False)

    # -- a deployment's shared secret: one round trip at start -------------------------------

    async def shared_secret(self, key: str, candidate: bytes) -> bytes:
        """``SET key candidate NX GET``: one atomic command that stores ``candidate`` when no
        instance did yet (nil), or leaves the key and answers what it holds. One key, so in
        a cluster it needs no hash tag; it never expires (a flushed Redis gives the next
        instance to start another secret: set one explicitly where that matters)."""
        try:
            kept = await self._calls.call(lambda client: client.set(key, candidate, nx=True, get=True))
        except REDIS_FAILURES as exc:
            raise BrokerUnavailable(f"shared secret not read: {describe(exc)}") from exc
        assert kept is None or isinstance(kept, bytes)  # a client that decodes replies is not ours
        return kept or candidate

    def stats(self) -> dict[str, Any]:
        topology = self._topology
        return {
            "backend": "redis",
            "mode": self.mode,
            "url": redact(self.url),
            "connected": self.connected,
            "published": self._outbox.published,
            "publish_failed": self._outbox.publish_failed,
            "received": self._received,
            "subscriptions": len(topology.desired),
            "confirmed": sum(len(link.confirmed) for link in topology.links.values()),
            "reconnects": topology.reconnects,
            "moved": topology.moved,
            "outbox": len(self._outbox),
            "nodes": {name: link.up for name, link in topology.links.items()},
            "last_error": self._last_error,
        }
