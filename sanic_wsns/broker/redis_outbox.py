"""``RedisBroker``'s writes, by role: one bounded outbox drained by one writer task.

Every publish, numbered publish (history) and request-key write of an instance goes
through it, so call order is kept, throughput is one pipelined round trip per batch, and a
failure costs a counter and (once per outage) a log line, never an exception in a handler.
On one server the batches go through the writer's own connection (``redis_lane.py``: a
history broadcast's offset comes with its round trip, which redis-py's pipeline made
expensive); in a cluster, through redis-py's cluster pipeline, which follows ``MOVED`` by
itself, and a failed batch makes the topology be read again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from ..errors import BrokerUnavailable
from ..history import History, new_epoch
from ..recovery import Position
from . import redis_history, redis_requests
from .redis_lane import Command, CommandLane
from .redis_link import MESSAGE, Mode, PubSubLink, describe
from .redis_scripts import seconds, sha

logger = logging.getLogger("sanic_wsns")

#: Payloads that may wait for the writer; beyond, a publish is counted as failed.
OUTBOX_LIMIT = 10_000
#: Payloads sent in one pipelined round trip.
BATCH_SIZE = 1_000
#: A request key's answer does not wake the writer: it goes with the next batch (the next
#: claim or publish), or after this long if none comes first. One client's keyed requests
#: run one after another, so each answer rides with the next request's claim: one round
#: trip per keyed request instead of two (bench/request_keys.py). A repeat elsewhere polls
#: every 20 ms or more (``idempotency.POLL_FIRST``): this delay is never what it waits for.
SETTLE_DELAY = 0.002


@dataclass(slots=True, frozen=True)
class Numbered:
    """What the history script needs besides the payload: the frame's head, the pattern's
    history, and for a keyed broadcast its key's name and window."""

    head: bytes
    history: History
    once: str | None = None
    window: float = 0.0


@dataclass(slots=True)
class Outgoing:
    """One payload for the writer: plain, or numbered by the history script (``numbered``:
    the frame's head and the pattern's history), with ``done`` for whoever waits for it;
    or, with ``words``, a write in the channel's slot that publishes nothing (a request
    key's answer), sent in call order with the payloads."""

    channel: str
    payload: bytes
    done: asyncio.Future[Any] | None = None
    numbered: Numbered | None = None
    words: Command | None = None


class Outbox:
    """The queue and its writer; see the module docstring."""

    def __init__(self, commands: Mode, owner: Callable[[str], PubSubLink | None],
                 load: Callable[[str], Awaitable[None]],
                 note_error: Callable[[BaseException | None], None],
                 topology_changed: Callable[[], None]):
        self.commands = commands
        self._owner = owner
        self._load = load
        self._note_error = note_error
        self._topology_changed = topology_changed
        self._client: Redis | RedisCluster | None = None
        #: One server: the writer's own connection (``redis_lane.py``); a cluster's batches
        #: go through redis-py's cluster pipeline.
        self._lane: CommandLane | None = None
        self._queue: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._settle_timer: asyncio.TimerHandle | None = None
        self._drained = asyncio.Event()
        self._writing = False
        self._writer: asyncio.Task[None] | None = None
        self.published = 0
        self.publish_failed = 0
        self._failing = 0  # failures in the current outage, for one summary line

    def __len__(self) -> int:
        return len(self._queue)

    def start(self, client: Redis | RedisCluster, lane: CommandLane | None) -> None:
        self._client, self._lane = client, lane
        self._writer = asyncio.get_running_loop().create_task(self._write(), name="wsns-redis-writer")

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) for what is queued to leave."""
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        if self._queue or self._writing:
            self._drained.clear()
            self._wake.set()  # answers waiting for a batch go now
            try:
                await asyncio.wait_for(self._drained.wait(), timeout)
            except TimeoutError:
                logger.warning("redis broker stopped with %d payloads unsent", len(self._queue))

    async def stop(self) -> None:
        """Stop the writer; whoever waits for a payload not sent learns it was not."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        left = list(self._queue)
        self._queue.clear()
        settle(left, [BrokerUnavailable("redis broker stopped")] * len(left))
        self._client = None
        if self._lane is not None:
            await self._lane.close()
            self._lane = None

    # -- queueing -----------------------------------------------------------------------------

    def publish(self, channel: str, payload: bytes) -> bool:
        return self.enqueue(Outgoing(channel, payload))

    def publish_written(self, channel: str, payload: bytes) -> asyncio.Future[bool]:
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if not self.enqueue(Outgoing(channel, payload, written)):
            written.set_result(False)
        return written

    def publish_numbered(self, channel: str, frame_head: bytes, message: bytes,
                         history: History, once: str | None = None,
                         window: float = 0.0) -> asyncio.Future[Position]:
        """Through the same queue as ``publish``, queued at the call: numbered frames keep
        call order with every other payload of this instance, and share its pipelined
        round trips. Refused at once (redis away, outbox full): the future says so."""
        numbered: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        script = Numbered(frame_head, history, once, window)
        if not self.enqueue(Outgoing(channel, message, numbered, script)):
            numbered.set_exception(BrokerUnavailable(f"no offset for a broadcast on {channel}: "
                                                     f"redis is away"))
        return numbered

    def enqueue(self, outgoing: Outgoing, wake: bool = True) -> bool:
        """Queue ``outgoing`` for the writer; ``wake=False``: it may wait up to
        ``SETTLE_DELAY`` for a batch that something else starts."""
        owner = self._owner(outgoing.channel)
        if owner is None or not owner.up:
            self._fail(1, "broker disconnected")
            return False
        if len(self._queue) >= OUTBOX_LIMIT:
            self._fail(1, f"outbox full ({OUTBOX_LIMIT} payloads waiting)")
            return False
        self._queue.append(outgoing)
        if wake:
            self._wake.set()
        elif self._settle_timer is None:
            self._settle_timer = asyncio.get_running_loop().call_later(SETTLE_DELAY, self._wake_late)
        return True

    def _wake_late(self) -> None:
        self._settle_timer = None
        self._wake.set()

    @property
    def on_one_server(self) -> bool:
        """Whether batches go through the writer's own connection (not a cluster)."""
        return self._lane is not None

    # -- writing ------------------------------------------------------------------------------

    async def _write(self) -> None:
        """The one writer: drains the queue in call order, one pipelined batch at a time;
        each payload that waits for an answer (written, or numbered) learns its own."""
        while True:
            if not self._queue:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(BATCH_SIZE, len(self._queue)))]
            self._writing = True
            try:
                replies = await self._send(batch)
                unscripted = [o for o, r in zip(batch, replies, strict=True) if isinstance(r, NoScriptError)]
                if unscripted:  # Redis restarted and forgot the script: load it, send those again
                    await self._load(redis_history.PUBLISH_SCRIPT)
                    retried = iter(await self._send(unscripted))
                    replies = [next(retried) if isinstance(r, NoScriptError) else r for r in replies]
            except asyncio.CancelledError:
                settle(batch, [BrokerUnavailable("redis broker stopped")] * len(batch))
                raise
            except Exception as exc:  # whatever it is, the writer must outlive it
                self._note_error(exc)
                self._fail(len(batch), describe(exc))
                settle(batch, [BrokerUnavailable(describe(exc))] * len(batch))
                self._topology_changed()  # in a cluster, the slot map may have changed
                continue
            finally:
                self._writing = False
            errors = [r for r in replies if isinstance(r, Exception)]
            failed = len(errors)
            if errors:
                self._note_error(errors[0])
                self._fail(failed, describe(errors[0]))
            settle(batch, replies)
            self.published += sum(o.words is None for o in batch) - failed
            if self._failing and not failed:
                logger.warning("redis publishing resumed; %d payloads were lost meanwhile", self._failing)
                self._failing = 0

    async def _send(self, batch: Sequence[Outgoing]) -> list[Any]:
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
                commands.append(("EVALSHA", sha(redis_history.PUBLISH_SCRIPT), len(keys), *keys,
                                 numbered.head, outgoing.payload, history.size, seconds(history.ttl),
                                 seconds(history.meta_ttl), new_epoch(), command, outgoing.channel,
                                 history.max_bytes, *once))
        if self._lane is not None:
            return await self._lane.send(commands)
        pipe = self._client.pipeline(transaction=False)
        for words in commands:
            pipe.execute_command(*words)
        return list(await pipe.execute(raise_on_error=False))

    def _fail(self, count: int, reason: str) -> None:
        """Count lost payloads; log the first of an outage, summarise when it ends."""
        self.publish_failed += count
        if not self._failing:
            logger.error("redis publish failed (%s); further failures are counted in "
                         "stats()['broker']['publish_failed'] until publishing resumes", reason)
        self._failing += count


def settle(batch: Sequence[Outgoing], replies: Sequence[Any]) -> None:
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
