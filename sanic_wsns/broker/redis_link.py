"""One Redis pub/sub connection and the channels it should hold on its server.

A ``PubSubLink`` is owned by exactly one listener task: it reads, and on any error marks
itself down, reconnects with capped backoff, subscribes every channel it should hold,
waits for the server's confirmations, and only then reports the channels restored.
Nothing else ever reconnects it (redis-py's own ``PubSub`` re-subscribes silently inside
its retry, which would hide an outage from the core).

It notices three faults a plain reader would not:

* a **silent link** (a connection that stops carrying bytes without closing): after
  ``probe_interval`` seconds without a byte it sends ``PING``; no answer within another
  ``probe_interval`` means the link is dead, so a silent link is repaired within
  twice ``probe_interval``;
* a channel the **server dropped by itself** (Redis Cluster sends ``sunsubscribe`` when a
  channel's slot moves to another master);
* a subscription the server **refused** (``MOVED``: this node no longer owns the slot).

The last two are handed to the owner (``channel_lost``), which knows the topology.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisClusterException, RedisError, ResponseError

logger = logging.getLogger("sanic_wsns")

#: Reconnect delays grow from the first to the cap (seconds), with jitter.
BACKOFF_FIRST = 0.1
BACKOFF_CAP = 5.0
#: A subscribe or unsubscribe not confirmed in this time means the connection is dead.
CONFIRM_TIMEOUT = 5.0

SUBSCRIBE, UNSUBSCRIBE, MESSAGE, PING = "subscribe", "unsubscribe", "message", "ping"
_KINDS = {
    b"subscribe": SUBSCRIBE, b"ssubscribe": SUBSCRIBE,
    b"unsubscribe": UNSUBSCRIBE, b"sunsubscribe": UNSUBSCRIBE,
    b"message": MESSAGE, b"smessage": MESSAGE,
    b"pong": PING,
}


@dataclass(frozen=True)
class Mode:
    """The commands one broker mode speaks; every Redis command name lives here."""

    name: str
    subscribe: str
    unsubscribe: str
    publish: str

    def command(self, kind: str) -> str:
        return {SUBSCRIBE: self.subscribe, UNSUBSCRIBE: self.unsubscribe, MESSAGE: self.publish}[kind]


PUBSUB = Mode("pubsub", "SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH")
SHARDED = Mode("sharded", "SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH")
CLUSTER = Mode("cluster", "SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH")


class LinkOwner(Protocol):
    """What a link reports to (the broker). ``down_for`` is ``None`` on the first connection,
    else the seconds the link was down."""

    def deliver(self, channel: str, payload: bytes) -> None: ...

    def link_up(self, link: PubSubLink, restored: frozenset[str], down_for: float | None) -> None: ...

    def link_down(self, link: PubSubLink, exc: Exception, was_up: bool) -> None: ...

    def channel_lost(self, link: PubSubLink, channel: str, why: str) -> None: ...


def backoff(attempt: int) -> float:
    """Delay before reconnect ``attempt`` (0-based): exponential, capped, half jittered so
    instances that lost the same Redis do not all come back in the same millisecond."""
    delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2**attempt)
    return random.uniform(delay / 2, delay)


#: What a failed Redis call raises: redis-py's cluster client raises ``RedisClusterException``
#: (not a ``RedisError``) when no node can be reached.
REDIS_FAILURES = (RedisError, RedisClusterException)


def describe(exc: BaseException) -> str:
    """An error as one log-friendly phrase (redis-py's reprs are not)."""
    return f"{type(exc).__name__}: {exc}"


@dataclass
class _Sent:
    """A command sent on the current connection whose reply has not come yet."""

    kind: str
    channel: str
    done: asyncio.Future[bool]


class PubSubLink:
    """One pub/sub connection to one Redis server and the channels it should hold there."""

    def __init__(self, owner: LinkOwner, name: str, mode: Mode,
                 make_connection: Callable[[], AbstractConnection], probe_interval: float):
        self.owner = owner
        self.name = name
        self.mode = mode
        self.probe_interval = probe_interval
        self._make_connection = make_connection
        self.desired: set[str] = set()
        self.confirmed: set[str] = set()
        self.up = False
        self.ever_up = False
        self.first_attempt = asyncio.Event()
        self._down_since: float | None = None
        self._conn: AbstractConnection | None = None
        # Redis answers a connection's commands in order; pushes (messages, a dropped
        # channel) come in between and are told apart by kind and channel.
        self._sent: deque[_Sent] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name=f"wsns-redis-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def subscribe(self, channel: str) -> bool:
        """Hold ``channel``; ``True`` once the server confirmed it, ``False`` if the link is
        down (it is subscribed on reconnection) or the server refused it (``channel_lost``)."""
        self.desired.add(channel)
        return await self._request(SUBSCRIBE, channel)

    async def unsubscribe(self, channel: str) -> None:
        self.desired.discard(channel)
        await self._request(UNSUBSCRIBE, channel)

    def forget(self, channel: str) -> None:
        """Stop holding ``channel`` without telling the server, which dropped it already
        (its slot moved, or the server is gone)."""
        self.desired.discard(channel)
        self.confirmed.discard(channel)

    async def _request(self, kind: str, channel: str) -> bool:
        """Send one (un)subscribe and wait for its reply. While the link is down return at
        once: the listener reconciles ``desired`` when it reconnects."""
        conn = self._conn
        # A connection redis-py just closed on a read error would be silently reopened by
        # send_packed_command; the listener replaces it instead.
        if not self.up or conn is None or not conn.is_connected:
            return False
        try:
            sent = (await self._send(conn, [(kind, channel)]))[0]
            return await asyncio.wait_for(asyncio.shield(sent.done), CONFIRM_TIMEOUT)
        except Exception as exc:
            # The listener sees the same broken connection and restores the channel later.
            logger.warning("redis %s not confirmed channel=%s node=%s: %s", kind, channel, self.name,
                           describe(exc))
            await conn.disconnect(nowait=True)
            return False

    async def _send(self, conn: AbstractConnection, commands: list[tuple[str, str]]) -> list[_Sent]:
        """Queue ``commands`` for their replies, then write them; queueing comes first and
        writes keep call order, so two callers' commands and replies pair up."""
        loop = asyncio.get_running_loop()
        sent = [_Sent(kind, channel, loop.create_future()) for kind, channel in commands]
        self._sent.extend(sent)
        packed = conn.pack_commands([(self.mode.command(k), c) for k, c in commands])
        await conn.send_packed_command(packed, check_health=False)
        return sent

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
        for every reply; ``desired`` may change meanwhile, so loop until it holds."""
        while True:
            commands = [(SUBSCRIBE, c) for c in self.desired - self.confirmed]
            commands += [(UNSUBSCRIBE, c) for c in self.confirmed - self.desired]
            if not commands:
                return
            sent = await self._send(conn, commands)
            while not all(s.done.done() for s in sent):
                reply = await self._read(conn, CONFIRM_TIMEOUT)
                if reply is None:
                    raise TimeoutError(f"no reply to {len(commands)} (un)subscribe(s) "
                                       f"within {CONFIRM_TIMEOUT}s")
                self._handle(reply)

    async def _read_forever(self, conn: AbstractConnection) -> None:
        probing = False
        while True:
            reply = await self._read(conn, self.probe_interval)
            if reply is not None:
                probing = False
                self._handle(reply)
            elif probing:
                raise TimeoutError(f"silent link: no reply to PING within {self.probe_interval}s")
            else:
                # A peer that vanished without a FIN, or a path that stopped carrying bytes,
                # is only noticed by asking it something.
                self._sent.append(_Sent(PING, "", asyncio.get_running_loop().create_future()))
                await conn.send_command("PING", check_health=False)
                probing = True

    @staticmethod
    async def _read(conn: AbstractConnection, timeout: float) -> Any:
        """The next reply or push; ``None`` after ``timeout`` seconds of silence; an error
        reply is returned, not raised (it answers one command, the connection is fine)."""
        try:
            return await conn.read_response(timeout=timeout, disconnect_on_error=True)
        except ResponseError as exc:
            return exc

    def _handle(self, reply: Any) -> None:
        """Dispatch one reply or push."""
        if isinstance(reply, ResponseError):
            self._refused(reply)
            return
        if reply == b"PONG":  # PING's reply while no channel is subscribed
            self._answered(PING, "", True)
            return
        if not isinstance(reply, list) or not reply:
            return
        kind = _KINDS.get(reply[0])
        if kind == PING:
            self._answered(PING, "", True)
            return
        if kind is None or len(reply) < 3:
            return
        channel = reply[1].decode()
        if kind == MESSAGE:
            # After unsubscribe() was called, late payloads for the channel are not delivered.
            if channel in self.desired:
                self.owner.deliver(channel, reply[2])
            return
        if kind == SUBSCRIBE:
            self.confirmed.add(channel)
        else:
            self.confirmed.discard(channel)
        if not self._answered(kind, channel, True) and kind == UNSUBSCRIBE and channel in self.desired:
            # Nobody asked: the server dropped the channel (its slot moved elsewhere).
            self.desired.discard(channel)
            self.owner.channel_lost(self, channel, "the server dropped the subscription")

    def _answered(self, kind: str, channel: str, result: bool) -> bool:
        """Settle the oldest command if ``kind``/``channel`` answers it."""
        head = self._sent[0] if self._sent else None
        if head is None or (head.kind, head.channel) != (kind, channel):
            return False
        self._sent.popleft()
        if not head.done.done():
            head.done.set_result(result)
        return True

    def _refused(self, error: ResponseError) -> None:
        if not self._sent:
            logger.warning("redis error reply nobody asked for node=%s: %s", self.name, describe(error))
            return
        head = self._sent[0]
        self._answered(head.kind, head.channel, False)
        if head.kind == SUBSCRIBE and head.channel in self.desired:
            self.desired.discard(head.channel)
            self.owner.channel_lost(self, head.channel, describe(error))

    def _came_up(self) -> None:
        restored = frozenset(self.confirmed)
        down_for = None
        if self.ever_up and self._down_since is not None:
            down_for = time.monotonic() - self._down_since
        self.up = self.ever_up = True
        self._down_since = None
        self.first_attempt.set()
        self.owner.link_up(self, restored, down_for)

    def _went_down(self, exc: Exception) -> None:
        was_up = self.up
        self.up = False
        if self._down_since is None:
            self._down_since = time.monotonic()
        self.confirmed.clear()
        # Callers waiting for a reply return now; their channels stay desired.
        for sent in self._sent:
            if not sent.done.done():
                sent.done.set_result(False)
        self._sent.clear()
        self.owner.link_down(self, exc, was_up)
