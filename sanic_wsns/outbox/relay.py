"""The relay: publishes recorded frames at once after their commit, and sweeps what is late.

Publishing right after a commit can be lost: the process dies between the two, or the
broker stalls and the process dies while the frame still waits in its queue. So the frame
is a row committed with the change; the instance that made it publishes it at once
(``announce``) and marks the row published only once the broker *wrote* it; every
instance's relay publishes rows left unpublished past a grace period, claiming them for a
lease first so that normally only one does, and a dead claimer's rows are taken over when
its lease lapses. Every publication carries a ``key`` naming the row: a row published twice
(a crash between publish and mark) within the idempotency window is delivered once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from ..errors import BrokerUnavailable
from .frame import Frame, Timing
from .store import OutboxStore

logger = logging.getLogger("sanic_wsns.outbox")


class Publish(Protocol):
    """``publish(path, type, data, key=...)``: returns once the broker wrote the frame,
    raises if it did not; it queues the frame in its first step. Both
    ``functools.partial(wsns.broadcast, confirm=True)`` and ``Emitter.broadcast`` are one."""

    def __call__(self, path: str, type: str, data: Any, *, key: str) -> Awaitable[Any]: ...


class Relay:
    """One per instance: ``announce`` after a commit, ``start``/``stop`` the sweeps with the
    server (``sanic_wsns.outbox.listeners.run_relay``). ``claimer`` names this instance in
    the rows it claims; ``key_prefix`` starts each frame's broadcast key (``key``)."""

    def __init__(self, store: OutboxStore, publish: Publish, claimer: str, *,
                 timing: Timing | None = None, key_prefix: str = "outbox-"):
        self._store = store
        self._publish = publish
        self.claimer = claimer
        self.timing = timing or Timing()
        self._key_prefix = key_prefix
        self._sweeper: asyncio.Task[None] | None = None
        self._confirming: set[asyncio.Task[int]] = set()
        self._counts = {"pending": 0, "published": 0, "swept": 0, "taken_over": 0, "pruned": 0,
                        "failed_sweeps": 0, "unconfirmed": 0}

    @property
    def announcing(self) -> int:
        """Announced frames still waiting for the broker to write them (or to give up)."""
        return len(self._confirming)

    def stats(self) -> dict[str, int]:
        """``pending``: unpublished rows at the last sweep (all instances'); ``published``
        rows this relay marked (announced or swept), ``swept`` of them late ones,
        ``taken_over`` claims it took from a lapsed claimer, ``pruned`` rows it deleted,
        ``failed_sweeps`` (the database refused; logged), ``unconfirmed`` publications the
        broker did not write within ``timing.confirm_timeout`` (left to a sweep),
        ``announcing`` right now. ``sanic_wsns.metrics`` exports them as ``wsns_outbox_*``."""
        return {**self._counts, "announcing": self.announcing}

    def key(self, frame: Frame) -> str:
        """The frame's broadcast key, the same for every publication of its row: the row id
        and its creation time (µs). The id alone would come back after a database is reset
        (or in another database publishing to the same broker) while the broker still
        remembers it, and swallow a new row's frame for the rest of the window."""
        return f"{self._key_prefix}{frame.id}.{round(frame.created * 1_000_000)}"

    async def announce(self, frame: Frame) -> None:
        """Publish a just-committed frame. It is queued (and delivered to this instance's
        clients) before this returns, so frames keep their commit order and a requester
        gets the frame before its reply; it is marked published in the background once
        the broker wrote it: a reply never waits for the broker."""
        written = self._start_publishing(frame)
        task = asyncio.get_running_loop().create_task(self._mark_when_written([frame], [written]))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)
        # Tasks take their first step in creation order: after one yield, ``written`` has
        # queued its frame (the broker enqueues before its first await).
        await asyncio.sleep(0)

    def _start_publishing(self, frame: Frame) -> asyncio.Task[Any]:
        written = asyncio.ensure_future(self._publish(frame.path, frame.type, frame.data,
                                                      key=self.key(frame)))
        written.add_done_callback(_retrieve)
        return written

    async def sweep(self) -> int:
        """Publish overdue frames (claimed first); how many the broker wrote."""
        now = time.time()
        backlog = await self._store.backlog(now, self.timing)
        self._counts["pending"] = backlog.pending
        if not backlog.claimable:
            return 0
        claimed = await self._store.claim(self.claimer, now, self.timing)
        if not claimed.frames:
            return 0
        self._counts["taken_over"] += claimed.taken_over
        late = sum(not frame.scheduled for frame in claimed.frames)
        if late:
            logger.warning("outbox: publishing %d frame(s) left unpublished for over %.0fs",
                           late, self.timing.grace)
        written = [self._start_publishing(frame) for frame in claimed.frames]
        published = await self._mark_when_written(claimed.frames, written)
        self._counts["swept"] += published
        return published

    async def _mark_when_written(self, frames: list[Frame], written: list[asyncio.Task[Any]]) -> int:
        # Gives up without cancelling: the frame stays queued, a sweep may publish it again
        # (under the same key, so the pages get it once).
        await asyncio.wait(written, timeout=self.timing.confirm_timeout)
        ids = [frame.id for frame, w in zip(frames, written, strict=True)
               if w.done() and not w.cancelled() and w.exception() is None]
        self._counts["unconfirmed"] += len(frames) - len(ids)
        if ids:
            await self._store.mark_published(ids, time.time())
            self._counts["published"] += len(ids)
        return len(ids)

    async def prune(self) -> int:
        """Delete the rows published over ``timing.keep`` seconds ago, a batch per
        transaction, until fewer than a batch are left (or ``prune_batches`` ran)."""
        deleted = 0
        for _ in range(self.timing.prune_batches):
            batch = await self._store.prune(time.time() - self.timing.keep, self.timing.prune_batch)
            deleted += batch
            if batch < self.timing.prune_batch:
                break
        self._counts["pruned"] += deleted
        return deleted

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(),
                                                               name="wsns-outbox-relay")

    async def stop(self) -> None:
        """Stop sweeping; give frames already announced a moment to be marked."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        if self._confirming:
            await asyncio.wait(set(self._confirming), timeout=1.0)
        for task in set(self._confirming):
            task.cancel()
        await asyncio.gather(*self._confirming, return_exceptions=True)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
                await self.prune()
            except Exception:  # the relay must outlive a locked or unreachable database
                self._counts["failed_sweeps"] += 1
                logger.exception("outbox sweep failed; retrying in %.1fs", self.timing.tick)
            await asyncio.sleep(self.timing.tick)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Read a publication's outcome: a broker's refusal is left to a sweep (the broker
    logged it already); anything else is a bug worth a line in the log."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, BrokerUnavailable):
        logger.error("outbox: publishing a frame failed", exc_info=error)
