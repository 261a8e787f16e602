"""``redis://``, ``rediss://``, ``redis+cluster://``: Redis pub/sub between instances.

Three modes behind one broker (``redis_link.Mode`` holds each one's commands):

* ``pubsub`` (default): ``SUBSCRIBE``/``PUBLISH`` on one Redis.
* ``sharded`` (``sharded=True``, setting ``WSNS_REDIS_SHARDED``): ``SSUBSCRIBE``/``SPUBLISH``.
  On one Redis it behaves the same; it exists so a deployment can move to a cluster
  without changing what its instances speak.
* ``cluster`` (``redis+cluster://`` or ``rediss+cluster://``): always sharded; each channel
  lives on the master owning its hash slot, so channels spread over the cluster.

Each pub/sub connection is a ``PubSubLink`` (``redis_link.py``): it reconnects by itself,
probes a silent connection, and reports channels the server dropped or refused.

One follower task keeps links and routes equal to the topology. In a cluster it re-reads
the slot map (``CLUSTER SLOTS``, through redis-py's nodes manager) when a link drops, when
a server drops or refuses a channel (its slot moved: ``sunsubscribe`` push, ``MOVED``), and
every ``TOPOLOGY_REFRESH`` seconds; then it gives each new master a link, moves every
channel whose slot changed owner, waits for the new owner's confirmation, calls
``on_restored`` for the moved channels (messages may have been missed meanwhile), and
stops links to servers that are no longer masters. A failover or a resharding is so
followed without a restart.

Publishing goes through one bounded outbox drained by one writer task that pipelines
batches: call order is kept, throughput is one round trip per batch, and a failure
costs a counter and (once per outage) a log line, never an exception in a handler. On one
server the batches go through the writer's own connection (``redis_lane.py``: a history
broadcast waits for its round trip, which redis-py's pipeline made expensive); in a
cluster, through redis-py's cluster pipeline, which follows ``MOVED`` by itself, and a
failed batch makes the follower re-read the topology.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, SlotNotCoveredError

from ..errors import BrokerUnavailable
from ..history import History, new_epoch
from ..presence import Entries
from ..recovery import Entry, Position
from . import redis_history, redis_presence, redis_requests
from .base import Broker, redact
from .redis_lane import Command, CommandLane
from .redis_link import CLUSTER, MESSAGE, PUBSUB, SHARDED, PubSubLink, backoff, describe
from .urls import parse_broker_url

logger = logging.getLogger("sanic_wsns")

T = TypeVar("T")

#: Payloads that may wait for the writer; beyond, a publish is counted as failed.
OUTBOX_LIMIT = 10_000
#: Payloads sent in one pipelined round trip.
BATCH_SIZE = 1_000
#: Default seconds of silence on a pub/sub link before it is probed with PING (and
#: seconds to wait for the answer): a silent link is repaired within twice this.
#: URL option ``?probe_interval=``.
PROBE_INTERVAL = 3.0
#: A command (a publish batch) without an answer in this time fails its connection, so a
#: silent publishing connection cannot hold the outbox forever.
COMMAND_TIMEOUT = 5.0
#: Script calls (history reads, presence) in flight at once, and how long a call waits for
#: its turn before it fails. redis-py refuses a connection past its pool's cap (100, per
#: node in a cluster) rather than wait, and a restarted instance's clients all come back
#: at once, each reading what it missed: a read that failed would be a resync.
CALLS_IN_FLIGHT = 50
CALL_WAIT = 30.0
#: Cluster: seconds between slot-map checks while all is well, and while some channel
#: waits for its owner (a failover in progress takes about two node timeouts).
TOPOLOGY_REFRESH = 10.0
TOPOLOGY_RETRY = 0.5
#: A request key's answer does not wake the writer: it goes with the next batch (the next
#: claim or publish), or after this long if none comes first. One client's keyed requests
#: run one after another, so each answer rides with the next request's claim: one round
#: trip per keyed request instead of two (bench/request_keys.py). A repeat elsewhere polls
#: every 20 ms or more (``idempotency.POLL_FIRST``): this delay is never what it waits for.
SETTLE_DELAY = 0.002
#: Longest wait at shutdown for queued payloads to leave.
DRAIN_TIMEOUT = 1.0
#: Socket connect timeout: an unreachable Redis must not stall start-up.
CONNECT_TIMEOUT = 2.0
#: The single server's link name (a cluster's links are named by node, host:port).
SINGLE = "redis"


class RedisBroker(Broker):
    """Redis pub/sub broker; see the module docstring for its modes and its tasks."""

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
        #: One server: the writer's own connection (``redis_lane.py``); a cluster's batches
        #: go through redis-py's cluster pipeline.
        self._lane: CommandLane | None = None
        self._calls = asyncio.Semaphore(CALLS_IN_FLIGHT)
        self._discovered = False
        self._links: dict[str, PubSubLink] = {}
        self._routes: dict[str, PubSubLink] = {}
        self._desired: set[str] = set()
        self._outbox: deque[_Outgoing] = deque()
        self._wake = asyncio.Event()
        self._settle_timer: asyncio.TimerHandle | None = None
        self._drained = asyncio.Event()
        self._writing = False
        self._topology_changed = asyncio.Event()
        self._discovery_tried = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._published = 0
        self._publish_failed = 0
        self._failing = 0  # failures in the current outage, for one summary line
        self._received = 0
        self._reconnects = 0
        self._moved = 0
        self._last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return bool(self._links) and all(link.up for link in self._links.values())

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
        if self.cluster:
            self._client = RedisCluster.from_url(self._client_url, **client_options)
        else:
            self._client = Redis.from_url(self._client_url, **client_options)
            pool = self._client.connection_pool
            # The lane bounds each batch itself: its connection has no per-call timeout.
            lane_options = {**pool.connection_kwargs, "socket_timeout": None}
            self._lane = CommandLane(lambda: pool.connection_class(**lane_options), COMMAND_TIMEOUT)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._write(), name="wsns-redis-writer"))
        self._tasks.append(loop.create_task(self._follow(), name="wsns-redis-follower"))
        await _within(CONNECT_TIMEOUT * 4, self._discovery_tried.wait())
        await _within(CONNECT_TIMEOUT * 2, *(link.first_attempt.wait() for link in self._links.values()))

    async def disconnect(self) -> None:
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        if self.connected and (self._outbox or self._writing):
            self._drained.clear()
            self._wake.set()  # answers waiting for a batch go now
            try:
                await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT)
            except TimeoutError:
                logger.warning("redis broker stopped with %d payloads unsent", len(self._outbox))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        left = list(self._outbox)
        self._outbox.clear()
        _settle(left, [BrokerUnavailable("redis broker stopped")] * len(left))
        await asyncio.gather(*(link.stop() for link in self._links.values()))
        self._links.clear()
        self._routes.clear()
        self._desired.clear()
        if self._lane is not None:
            await self._lane.close()
            self._lane = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- topology -----------------------------------------------------------------------------

    async def _follow(self) -> None:
        """Keep links and routes equal to the topology, for the broker's lifetime."""
        attempt = 0
        while True:
            self._topology_changed.clear()
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
                await _within(TOPOLOGY_REFRESH if self.cluster else None, self._topology_changed.wait())

    async def _refresh(self) -> None:
        """One round: learn the masters, open links to new ones, move channels whose owner
        changed, close links to servers that are no longer masters."""
        masters = await self._masters()
        first = not self._discovered
        self._discovered = True
        for name, make_connection in masters.items():
            if name not in self._links:
                link = PubSubLink(self, name, self.commands, make_connection, self.probe_interval)
                self._links[name] = link
                link.start()
        if first and self.cluster:
            logger.info("redis cluster discovered masters=%s", sorted(masters))
        moved = self._reroute()
        if moved:
            confirmed = await asyncio.gather(*(self._routes[c].subscribe(c) for c in moved))
            restored = [c for c, ok in zip(moved, confirmed, strict=True) if ok]
            self._restored(restored)
        for name, link in list(self._links.items()):
            if name not in masters and not link.desired:
                del self._links[name]
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
        for channel in self._desired:
            owner = self._owner(channel)
            current = self._routes.get(channel)
            if owner is None or (current is owner and channel in owner.desired):
                continue  # no owner (a slot mid-move counts as a node down), or in place
            if current is not None and current is not owner:
                current.forget(channel)
                self._moved += 1
                logger.warning("redis channel %s moved from node=%s to node=%s; resubscribing",
                               channel, current.name, owner.name)
            self._routes[channel] = owner
            rerouted.append(channel)
        return rerouted

    def _settled(self) -> bool:
        """Nothing for the follower to do: every wanted channel is routed to a link that holds
        it and, in a cluster, is up (a lost master may be failing over to a replica; a single
        Redis's link just reconnects by itself), and no cluster link was lost."""
        if self.cluster and any(link.ever_up and not link.up for link in self._links.values()):
            return False
        for channel in self._desired:
            link = self._routes.get(channel)
            if link is None or channel not in link.desired or (self.cluster and not link.up):
                return False
        return True

    def _route(self, channel: str) -> PubSubLink | None:
        """The link that holds (or will hold) ``channel``; ``None`` before discovery.
        Remembered, so the unsubscribe goes where the subscribe went."""
        link = self._routes.get(channel) or self._owner(channel)
        if link is not None:
            self._routes[channel] = link
        return link

    def _owner(self, channel: str) -> PubSubLink | None:
        """The link to the server that owns ``channel`` now (its slot's master in a cluster)."""
        client = self._client
        # The flag first: an isinstance() check of redis-py's client class costs a
        # microsecond, and this runs for every payload.
        if not self.cluster or not isinstance(client, RedisCluster):
            return self._links.get(SINGLE)
        if not self._links:
            return None
        try:
            node = client.get_node_from_key(channel)
        except SlotNotCoveredError:
            return None
        return None if node is None else self._links.get(node.name)

    # -- subscriptions ------------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        self._desired.add(channel)
        link = self._route(channel)
        if link is not None:
            await link.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._desired.discard(channel)
        link = self._routes.pop(channel, None)
        if link is not None:
            await link.unsubscribe(channel)

    def deliver(self, channel: str, payload: bytes) -> None:
        """A payload arrived from Redis: hand it to the core (whose errors are not ours)."""
        self._received += 1
        try:
            self._on_message(channel, payload)
        except Exception:
            logger.exception("broker message handler failed channel=%s", channel)

    def link_up(self, link: PubSubLink, restored: frozenset[str], down_for: float | None) -> None:
        if down_for is not None:
            self._reconnects += 1
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
            self._topology_changed.set()  # in a cluster, a replica may be taking over
        elif not link.ever_up and not link.first_attempt.is_set():
            logger.error("redis unreachable node=%s (%s); running locally, retrying with backoff",
                         link.name, describe(exc))

    def channel_lost(self, link: PubSubLink, channel: str, why: str) -> None:
        # The route stays: the follower compares it with the new owner (moved or not).
        if channel in self._desired:
            logger.warning("redis channel %s left node=%s (%s); following the topology",
                           channel, link.name, why)
            self._topology_changed.set()

    def _restored(self, channels: Iterable[str]) -> None:
        channels = frozenset(channels)
        if not channels:
            return
        try:
            self._on_restored(channels)
        except Exception:
            logger.exception("broker restored handler failed")

    def _check_recovered(self) -> None:
        """Every link is up again: the last error is history."""
        if self.connected:
            self._last_error = None

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, channel: str, payload: bytes) -> bool:
        return self._enqueue(_Outgoing(channel, payload))

    def publish_written(self, channel: str, payload: bytes) -> asyncio.Future[bool]:
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if not self._enqueue(_Outgoing(channel, payload, written)):
            written.set_result(False)
        return written

    async def publish_numbered(self, channel: str, frame_head: bytes, message: bytes,
                               history: History, once: str | None = None,
                               window: float = 0.0) -> Position:
        """Through the same outbox as ``publish``: numbered frames keep call order with
        every other payload of this instance, and share its pipelined round trips."""
        numbered: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        script = _Numbered(frame_head, history, once, window)
        if not self._enqueue(_Outgoing(channel, message, numbered, script)):
            raise BrokerUnavailable(f"no offset for a broadcast on {channel}: redis is away")
        return await numbered

    def _enqueue(self, outgoing: _Outgoing, wake: bool = True) -> bool:
        """Queue ``outgoing`` for the writer; ``wake=False``: it may wait up to
        ``SETTLE_DELAY`` for a batch that something else starts."""
        owner = self._owner(outgoing.channel)
        if owner is None or not owner.up:
            self._fail(1, "broker disconnected")
            return False
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._fail(1, f"outbox full ({OUTBOX_LIMIT} payloads waiting)")
            return False
        self._outbox.append(outgoing)
        if wake:
            self._wake.set()
        elif self._settle_timer is None:
            self._settle_timer = asyncio.get_running_loop().call_later(SETTLE_DELAY, self._wake_late)
        return True

    def _wake_late(self) -> None:
        self._settle_timer = None
        self._wake.set()

    async def _write(self) -> None:
        """The one writer: drains the outbox in call order, one pipelined batch at a time;
        each payload that waits for an answer (written, or numbered) learns its own."""
        while True:
            if not self._outbox:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._outbox.popleft() for _ in range(min(BATCH_SIZE, len(self._outbox)))]
            self._writing = True
            try:
                replies = await self._send(batch)
                unscripted = [o for o, r in zip(batch, replies, strict=True) if isinstance(r, NoScriptError)]
                if unscripted:  # Redis restarted and forgot the script: load it, send those again
                    await self._load(redis_history.PUBLISH_SCRIPT)
                    retried = iter(await self._send(unscripted))
                    replies = [next(retried) if isinstance(r, NoScriptError) else r for r in replies]
            except asyncio.CancelledError:
                _settle(batch, [BrokerUnavailable("redis broker stopped")] * len(batch))
                raise
            except Exception as exc:  # whatever it is, the writer must outlive it
                self._note_error(exc)
                self._fail(len(batch), describe(exc))
                _settle(batch, [BrokerUnavailable(describe(exc))] * len(batch))
                self._topology_changed.set()  # in a cluster, the slot map may have changed
                continue
            finally:
                self._writing = False
            errors = [r for r in replies if isinstance(r, Exception)]
            failed = len(errors)
            if errors:
                self._note_error(errors[0])
                self._fail(failed, describe(errors[0]))
            _settle(batch, replies)
            self._published += sum(o.words is None for o in batch) - failed
            if self._failing and not failed:
                logger.warning("redis publishing resumed; %d payloads were lost meanwhile", self._failing)
                self._failing = 0

    async def _send(self, batch: Sequence[_Outgoing]) -> list[Any]:
        """One pipelined round trip; a reply per payload (an exception for a refused one)."""
        assert self._client is not None
        command = self.commands.command(MESSAGE)
        commands: list[Command] = []
        for outgoing in batch:
            if outgoing.words is not None:
                commands.append(outgoing.words)
            elif outgoing.numbered is None:
                commands.append((command, outgoing.channel, outgoing.payload))
            else:
                numbered = outgoing.numbered
                history = numbered.history
                keys: tuple[str, ...] = redis_history.history_keys(outgoing.channel)
                once: tuple[int, ...] = ()
                if numbered.once is not None:
                    keys += (redis_requests.request_key(outgoing.channel, numbered.once),)
                    once = (redis_requests.milliseconds(numbered.window),)
                # As a raw command: redis-py's cluster pipeline refuses its evalsha() method,
                # but routes EVALSHA by its keys like any keyed command.
                commands.append(("EVALSHA", _sha(redis_history.PUBLISH_SCRIPT), len(keys), *keys,
                                 numbered.head, outgoing.payload, history.size, _seconds(history.ttl),
                                 _seconds(history.meta_ttl), new_epoch(), command, outgoing.channel,
                                 history.max_bytes, *once))
        if self._lane is not None:
            return await self._lane.send(commands)
        pipe = self._client.pipeline(transaction=False)
        for words in commands:
            pipe.execute_command(*words)
        return list(await pipe.execute(raise_on_error=False))

    # -- history and presence: one script call each ---------------------------------------

    async def read_history(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        reply = await self._script(redis_history.READ_SCRIPT, redis_history.history_keys(channel),
                                   after, _seconds(history.meta_ttl), new_epoch())
        return redis_history.parse_position(reply), redis_history.parse_entries(reply[2])

    async def presence_add(self, channel: str, entries: list[tuple[str, bytes]], ttl: float) -> list[str]:
        flat = [part for entry in entries for part in entry]
        reply = await self._script(redis_presence.ADD_SCRIPT, redis_presence.presence_keys(channel),
                                   int(ttl * 1000), _seconds(ttl * 2), *flat)
        return redis_presence.parse_ids(reply)

    async def presence_remove(self, channel: str, client_ids: list[str]) -> list[str]:
        reply = await self._script(redis_presence.REMOVE_SCRIPT, redis_presence.presence_keys(channel),
                                   *client_ids)
        return redis_presence.parse_ids(reply)

    async def presence_expire(self, channel: str, limit: int) -> list[str]:
        reply = await self._script(redis_presence.EXPIRE_SCRIPT, redis_presence.presence_keys(channel), limit)
        return redis_presence.parse_ids(reply)

    async def presence_get(self, channel: str) -> Entries:
        reply = await self._script(redis_presence.GET_SCRIPT, redis_presence.presence_keys(channel))
        return redis_presence.parse_entries(reply)

    # -- request keys: a claim before the handler, the answer after it -----------------------

    async def claim_request(self, channel: str, name: str, window: float) -> bytes | None:
        """On one server the claim goes with the writer's batches (``CommandLane``: a few
        calls, where a redis-py call cost a keyed request 2.4x an unkeyed one's CPU); a
        cluster's pipeline reads a raw ``SET``'s reply as a bool, so there it is a client call."""
        if self._lane is None:
            try:
                return await self._call(lambda client: redis_requests.claim(client, channel, name, window))
            except RedisError as exc:
                raise BrokerUnavailable(f"request key not claimed: {describe(exc)}") from exc
        claimed: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        words = redis_requests.claim_command(channel, name, window)
        if not self._enqueue(_Outgoing(channel, b"", claimed, words=words)):
            raise BrokerUnavailable(f"request key not claimed on {channel}: redis is away")
        return await claimed

    def settle_request(self, channel: str, name: str, answer: bytes, window: float,
                       claimed: bool = True) -> None:
        words = redis_requests.settle_command(channel, name, answer, window, claimed)
        self._enqueue(_Outgoing(channel, answer, words=words), wake=False)

    def release_request(self, channel: str, name: str) -> None:
        words = redis_requests.release_command(channel, name)
        self._enqueue(_Outgoing(channel, b"", words=words), wake=False)

    async def _script(self, script: str, keys: tuple[str, ...], *args: Any) -> Any:
        """Run ``script`` (in turn: see ``_call``)."""
        return await self._call(lambda client: self._evalsha(client, script, keys, args))

    async def _call(self, command: Callable[[Redis | RedisCluster], Awaitable[T]]) -> T:
        """One awaited Redis call; at most ``CALLS_IN_FLIGHT`` at once, the others wait their
        turn."""
        if self._client is None:
            raise BrokerUnavailable("redis broker is not started")
        try:
            async with asyncio.timeout(CALL_WAIT):
                await self._calls.acquire()
        except TimeoutError:
            raise BrokerUnavailable(f"no turn for a redis call within {CALL_WAIT:.0f}s "
                                    f"({CALLS_IN_FLIGHT} in flight)") from None
        try:
            return await command(self._client)
        finally:
            self._calls.release()

    async def _evalsha(self, client: Redis | RedisCluster, script: str, keys: tuple[str, ...],
                       args: tuple[Any, ...]) -> Any:
        """``EVALSHA``, loading the script first when Redis does not know it (yet)."""
        try:
            return await client.evalsha(_sha(script), len(keys), *keys, *args)
        except NoScriptError:
            await self._load(script)
            return await client.evalsha(_sha(script), len(keys), *keys, *args)

    async def _load(self, script: str) -> None:
        assert self._client is not None
        await self._client.script_load(script)  # a cluster loads it on every master

    def _fail(self, count: int, reason: str) -> None:
        """Count lost payloads; log the first of an outage, summarise when it ends."""
        self._publish_failed += count
        if not self._failing:
            logger.error("redis publish failed (%s); further failures are counted in "
                         "stats()['broker']['publish_failed'] until publishing resumes", reason)
        self._failing += count

    def _note_error(self, exc: BaseException) -> None:
        self._last_error = describe(exc)

    def stats(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "mode": self.mode,
            "url": redact(self.url),
            "connected": self.connected,
            "published": self._published,
            "publish_failed": self._publish_failed,
            "received": self._received,
            "subscriptions": len(self._desired),
            "confirmed": sum(len(link.confirmed) for link in self._links.values()),
            "reconnects": self._reconnects,
            "moved": self._moved,
            "outbox": len(self._outbox),
            "nodes": {name: link.up for name, link in self._links.items()},
            "last_error": self._last_error,
        }


@dataclass(slots=True, frozen=True)
class _Numbered:
    """What the history script needs besides the payload: the frame's head, the pattern's
    history, and for a keyed broadcast its key's name and window."""

    head: bytes
    history: History
    once: str | None = None
    window: float = 0.0


@dataclass(slots=True)
class _Outgoing:
    """One payload for the writer: plain, or numbered by the history script (``numbered``:
    the frame's head and the pattern's history), with ``done`` for whoever waits for it;
    or, with ``words``, a write in the channel's slot that publishes nothing (a request
    key's answer), sent in call order with the payloads."""

    channel: str
    payload: bytes
    done: asyncio.Future[Any] | None = None
    numbered: _Numbered | None = None
    words: Command | None = None


def _settle(batch: Sequence[_Outgoing], replies: Sequence[Any]) -> None:
    """Tell each waiter how its payload ended: written (``True``), its position, or why not."""
    for outgoing, reply in zip(batch, replies, strict=True):
        done = outgoing.done
        if done is None or done.done():  # nobody waits, or the waiter gave up
            continue
        if outgoing.words is not None:  # a request key's claim: what the key held
            if isinstance(reply, Exception):
                done.set_exception(BrokerUnavailable(f"request key not claimed: {describe(reply)}"))
            else:
                done.set_result(None if reply is None else bytes(reply))
        elif outgoing.numbered is None:
            done.set_result(not isinstance(reply, Exception))
        elif isinstance(reply, Exception):
            done.set_exception(reply if isinstance(reply, BrokerUnavailable)
                               else BrokerUnavailable(f"no offset: {describe(reply)}"))
        else:
            done.set_result(redis_history.parse_position(reply))


_SHAS: dict[str, str] = {}


def _sha(script: str) -> str:
    """The SHA1 Redis knows a script by (``EVALSHA``)."""
    sha = _SHAS.get(script)
    if sha is None:
        sha = _SHAS[script] = hashlib.sha1(script.encode()).hexdigest()
    return sha


def _seconds(value: float) -> int:
    """``EXPIRE`` takes whole seconds; never round a ttl down to nothing."""
    return max(1, math.ceil(value))


async def _within(seconds: float | None, *waits: Coroutine[Any, Any, Any]) -> None:
    """Await ``waits`` for at most ``seconds``, without raising: start-up goes on regardless.
    Cancelled itself (the follower stops), it stops the waits too: none is left pending."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
