"""``redis://``, ``rediss://``, ``redis+cluster://``: Redis pub/sub between instances.

Three modes behind one broker:

* ``pubsub`` (default): ``SUBSCRIBE``/``PUBLISH`` on one Redis.
* ``sharded`` (``sharded=True``, setting ``WSNS_REDIS_SHARDED``): ``SSUBSCRIBE``/``SPUBLISH``.
  On one Redis it behaves the same; it exists so a deployment can move to a cluster
  without changing what its instances speak.
* ``cluster`` (``redis+cluster://`` or ``rediss+cluster://``): always sharded; each channel
  lives on the master owning its hash slot, so channels spread over the cluster.

Each pub/sub connection is a ``_Link`` owned by exactly one listener task: it reads,
and on any error marks itself down, reconnects with capped backoff, subscribes every
channel it should hold, waits for the server's confirmations, and only then reports
the channels restored. Nothing else ever reconnects it (redis-py's own ``PubSub``
re-subscribes silently inside its retry, which would hide an outage from the core).

Publishing goes through one bounded outbox drained by one writer task that pipelines
batches: call order is kept, throughput is one round trip per batch, and a failure
costs a counter and (once per outage) a log line, never an exception in a handler.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, SlotNotCoveredError

from .base import Broker, redact

logger = logging.getLogger("sanic_wsns")

#: Payloads that may wait for the writer; beyond, a publish is counted as failed.
OUTBOX_LIMIT = 10_000
#: Payloads sent in one pipelined round trip.
BATCH_SIZE = 1_000
#: Reconnect delays grow from the first to the cap (seconds), with jitter.
BACKOFF_FIRST = 0.1
BACKOFF_CAP = 5.0
#: A subscribe or unsubscribe not confirmed in this time means the connection is dead.
CONFIRM_TIMEOUT = 5.0
#: Silence after which the listener pings; a second silence as long means the peer is gone.
HEARTBEAT = 10.0
#: Longest wait at shutdown for queued payloads to leave.
DRAIN_TIMEOUT = 1.0
#: Socket connect timeout: an unreachable Redis must not stall start-up.
CONNECT_TIMEOUT = 2.0

_SUBSCRIBE, _UNSUBSCRIBE, _MESSAGE = "subscribe", "unsubscribe", "message"
_KINDS = {
    b"subscribe": _SUBSCRIBE, b"ssubscribe": _SUBSCRIBE,
    b"unsubscribe": _UNSUBSCRIBE, b"sunsubscribe": _UNSUBSCRIBE,
    b"message": _MESSAGE, b"smessage": _MESSAGE,
}


def backoff(attempt: int) -> float:
    """Delay before reconnect ``attempt`` (0-based): exponential, capped, half jittered so
    instances that lost the same Redis do not all come back in the same millisecond."""
    delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2**attempt)
    return random.uniform(delay / 2, delay)


def describe(exc: BaseException) -> str:
    """An error as one log-friendly phrase (redis-py's reprs are not)."""
    return f"{type(exc).__name__}: {exc}"


class _Link:
    """One pub/sub connection to one Redis server and the channels it should hold there."""

    def __init__(self, broker: RedisBroker, name: str,
                 make_connection: Callable[[], AbstractConnection]):
        self.broker = broker
        self.name = name
        self._make_connection = make_connection
        self.desired: set[str] = set()
        self.confirmed: set[str] = set()
        self.up = False
        self.ever_up = False
        self.first_attempt = asyncio.Event()
        self._conn: AbstractConnection | None = None
        # Confirmations come back in order per kind and channel, so a FIFO per
        # (kind, channel) never mistakes an unsubscribe's confirmation for a subscribe's.
        self._waiters: dict[tuple[str, str], deque[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name=f"wsns-redis-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def subscribe(self, channel: str) -> None:
        self.desired.add(channel)
        await self._request(_SUBSCRIBE, channel)

    async def unsubscribe(self, channel: str) -> None:
        self.desired.discard(channel)
        await self._request(_UNSUBSCRIBE, channel)

    async def _request(self, kind: str, channel: str) -> None:
        """Send one (un)subscribe and wait for its confirmation. While the link is down
        return at once: the listener reconciles ``desired`` when it reconnects."""
        conn = self._conn
        # A connection redis-py just closed on a read error would be silently reopened by
        # send_packed_command; the listener replaces it instead.
        if not self.up or conn is None or not conn.is_connected:
            return
        confirmed = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((kind, channel), deque()).append(confirmed)
        try:
            await conn.send_packed_command(conn.pack_command(self.broker.command(kind), channel),
                                           check_health=False)
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            # The listener sees the same broken connection and restores the channel later.
            logger.warning("redis %s not confirmed channel=%s node=%s: %s", kind, channel, self.name,
                           describe(exc))
            await conn.disconnect(nowait=True)

    async def _listen(self) -> None:
        """Own the connection for the broker's lifetime; never return, never die silently."""
        attempt = 0
        while True:
            conn = self._make_connection()
            try:
                await conn.connect()
                self._conn = conn
                await self._restore(conn)
                attempt = 0
                self._came_up()
                await self._read_forever(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._went_down(exc)
                self.first_attempt.set()
            finally:
                self._conn = None
                await conn.disconnect(nowait=True)
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def _restore(self, conn: AbstractConnection) -> None:
        """Make the server's subscriptions equal ``desired`` on a fresh connection, waiting
        for every confirmation; ``desired`` may change meanwhile, so loop until it holds."""
        while True:
            commands = [(self.broker.command(_SUBSCRIBE), c) for c in self.desired - self.confirmed]
            commands += [(self.broker.command(_UNSUBSCRIBE), c) for c in self.confirmed - self.desired]
            if not commands:
                return
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            awaited = len(commands)
            while awaited:
                reply = await conn.read_response(timeout=CONFIRM_TIMEOUT, disconnect_on_error=True)
                if reply is None:
                    raise TimeoutError(f"no confirmation for {awaited} (un)subscribe(s)")
                if self._handle(reply) in (_SUBSCRIBE, _UNSUBSCRIBE):
                    awaited -= 1

    async def _read_forever(self, conn: AbstractConnection) -> None:
        pinged = False
        while True:
            reply = await conn.read_response(timeout=HEARTBEAT, disconnect_on_error=True)
            if reply is not None:
                pinged = False
                self._handle(reply)
            elif pinged:
                raise TimeoutError(f"no reply to PING within {HEARTBEAT}s")
            else:
                # A peer that vanished without a FIN is only noticed by asking it something.
                await conn.send_command("PING", check_health=False)
                pinged = True

    def _handle(self, reply: Any) -> str | None:
        """Dispatch one server push; returns its kind."""
        if not isinstance(reply, list) or len(reply) < 3:
            return None  # PING's reply in subscribed mode, say
        kind = _KINDS.get(reply[0])
        if kind is None:
            return None
        channel = reply[1].decode()
        if kind == _MESSAGE:
            # After unsubscribe() was called, late payloads for the channel are not delivered.
            if channel in self.desired:
                self.broker.deliver(channel, reply[2])
            return kind
        if kind == _SUBSCRIBE:
            self.confirmed.add(channel)
        else:
            self.confirmed.discard(channel)
        waiters = self._waiters.get((kind, channel))
        if waiters:
            waiter = waiters.popleft()
            if not waiters:
                del self._waiters[(kind, channel)]
            if not waiter.done():
                waiter.set_result(None)
        return kind

    def _came_up(self) -> None:
        restored = frozenset(self.confirmed)
        reconnected = self.ever_up
        self.up = self.ever_up = True
        self.first_attempt.set()
        self.broker.link_up(self, restored, reconnected)

    def _went_down(self, exc: Exception) -> None:
        was_up = self.up
        self.up = False
        self.confirmed.clear()
        # Callers waiting for a confirmation return now; their channels stay desired.
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._waiters.clear()
        self.broker.link_down(self, exc, was_up)


class RedisBroker(Broker):
    """Redis pub/sub broker; see the module docstring for its modes and its tasks."""

    scheme = "redis"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        parts = urlsplit(self.url)
        self.cluster = parts.scheme.endswith("+cluster")
        self.sharded = self.cluster or bool(self.options.get("sharded", False))
        self.mode = "cluster" if self.cluster else "sharded" if self.sharded else "pubsub"
        # redis-py takes redis:// or rediss://; the +cluster suffix only picks the client.
        self._redis_url = urlunsplit(parts._replace(scheme=parts.scheme.removesuffix("+cluster")))
        self._client: Redis | RedisCluster | None = None
        self._links: dict[str, _Link] = {}
        self._routes: dict[str, _Link] = {}
        self._desired: set[str] = set()
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._writing = False
        self._discovery_tried = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._published = 0
        self._publish_failed = 0
        self._failing = 0  # failures in the current outage, for one summary line
        self._received = 0
        self._reconnects = 0
        self._last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return bool(self._links) and all(link.up for link in self._links.values())

    async def connect(self) -> None:
        """Start the writer and the listener(s); wait for the first connection attempt
        (bounded), so a reachable Redis is subscribed-ready when the server starts."""
        client_options: dict[str, Any] = {
            # RESP2: subscribe confirmations arrive as ordinary replies (RESP3, redis-py's
            # default, turns them into push messages a bare connection does not return).
            "protocol": 2,
            # No hidden retries: a retried pipeline could publish a batch twice.
            "retry": Retry(NoBackoff(), 0),
            "socket_connect_timeout": CONNECT_TIMEOUT,
        }
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._write(), name="wsns-redis-writer"))
        if self.cluster:
            self._client = RedisCluster.from_url(self._redis_url, **client_options)
            self._tasks.append(loop.create_task(self._discover(), name="wsns-redis-discover"))
            await _within(CONNECT_TIMEOUT * 4, self._discovery_tried.wait())
        else:
            client = Redis.from_url(self._redis_url, **client_options)
            self._client = client
            self._add_link("redis", client.connection_pool.make_connection)
        await _within(CONNECT_TIMEOUT * 2, *(link.first_attempt.wait() for link in self._links.values()))

    async def disconnect(self) -> None:
        if self.connected and (self._outbox or self._writing):
            self._drained.clear()
            try:
                await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT)
            except TimeoutError:
                logger.warning("redis broker stopped with %d payloads unsent", len(self._outbox))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.gather(*(link.stop() for link in self._links.values()))
        self._links.clear()
        self._routes.clear()
        self._desired.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _add_link(self, name: str, make_connection: Callable[[], AbstractConnection]) -> _Link:
        link = _Link(self, name, make_connection)
        self._links[name] = link
        link.start()
        return link

    async def _discover(self) -> None:
        """Cluster mode: learn the masters (retrying while the cluster is unreachable),
        then give each master a link holding the channels whose slots it owns."""
        assert isinstance(self._client, RedisCluster)
        cluster = self._client
        attempt = 0
        while True:
            try:
                await cluster.initialize()
                break
            except Exception as exc:  # redis-py's cluster errors are not all RedisError
                self._note_error(exc)
                if attempt == 0:
                    logger.error("redis cluster unreachable (%s); running locally, retrying "
                                 "with backoff", describe(exc))
            self._discovery_tried.set()
            await asyncio.sleep(backoff(attempt))
            attempt += 1
        for node in cluster.get_primaries():
            def make(node: Any = node) -> AbstractConnection:
                return node.connection_class(**node.connection_kwargs)
            self._add_link(node.name, make)
        for channel in self._desired:
            link = self._route(channel)
            if link is not None:
                link.desired.add(channel)
        self._discovery_tried.set()
        logger.info("redis cluster discovered masters=%s", sorted(self._links))

    def _route(self, channel: str) -> _Link | None:
        """The link that holds (or will hold) ``channel``; ``None`` before discovery.
        Remembered, so the unsubscribe goes where the subscribe went."""
        link = self._routes.get(channel) or self._owner(channel)
        if link is not None:
            self._routes[channel] = link
        return link

    def _owner(self, channel: str) -> _Link | None:
        """The link to the server that owns ``channel`` now (its slot's master in a cluster)."""
        if not isinstance(self._client, RedisCluster):
            return self._links.get("redis")
        if not self._links:
            return None
        try:
            node = self._client.get_node_from_key(channel)
        except SlotNotCoveredError:
            return None  # mid-resharding: treated like a node that is down
        return self._links.get(node.name)

    # -- subscriptions ------------------------------------------------------------------------

    def command(self, kind: str) -> str:
        """The Redis command for ``kind`` in this broker's mode."""
        name = {_SUBSCRIBE: "SUBSCRIBE", _UNSUBSCRIBE: "UNSUBSCRIBE", _MESSAGE: "PUBLISH"}[kind]
        return "S" + name if self.sharded else name

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

    def link_up(self, link: _Link, restored: frozenset[str], reconnected: bool) -> None:
        if reconnected:
            self._reconnects += 1
            logger.warning("redis connection restored node=%s channels=%d", link.name, len(restored))
        if restored:
            # They were subscribed while the link was down (or before it first came up):
            # whatever was published meanwhile did not reach this instance.
            try:
                self._on_restored(restored)
            except Exception:
                logger.exception("broker restored handler failed")

    def link_down(self, link: _Link, exc: Exception, was_up: bool) -> None:
        self._note_error(exc)
        if was_up:
            logger.error("redis connection lost node=%s (%s); local delivery goes on, "
                         "reconnecting with backoff", link.name, describe(exc))
        elif not link.ever_up and not link.first_attempt.is_set():
            logger.error("redis unreachable node=%s (%s); running locally, retrying with backoff",
                         link.name, describe(exc))

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, channel: str, payload: bytes) -> bool:
        owner = self._owner(channel)
        if owner is None or not owner.up:
            self._fail(1, "broker disconnected")
            return False
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._fail(1, f"outbox full ({OUTBOX_LIMIT} payloads waiting)")
            return False
        self._outbox.append((channel, payload))
        self._wake.set()
        return True

    async def _write(self) -> None:
        """The one writer: drains the outbox in call order, one pipelined batch at a time."""
        command = self.command(_MESSAGE)
        while True:
            if not self._outbox:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._outbox.popleft() for _ in range(min(BATCH_SIZE, len(self._outbox)))]
            assert self._client is not None
            pipe = self._client.pipeline(transaction=False)
            for channel, payload in batch:
                pipe.execute_command(command, channel, payload)
            self._writing = True
            try:
                await pipe.execute()
            except Exception as exc:  # whatever it is, the writer must outlive it
                self._note_error(exc)
                self._fail(len(batch), describe(exc))
                continue
            finally:
                self._writing = False
            self._published += len(batch)
            if self._failing:
                logger.warning("redis publishing resumed; %d payloads were lost meanwhile", self._failing)
                self._failing = 0

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
            "outbox": len(self._outbox),
            "nodes": {name: link.up for name, link in self._links.items()},
            "last_error": self._last_error,
        }


async def _within(seconds: float, *waits: Coroutine[Any, Any, Any]) -> None:
    """Await ``waits`` for at most ``seconds``, without raising: start-up goes on regardless."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    if tasks:
        await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
