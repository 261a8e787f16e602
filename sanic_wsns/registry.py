"""Which namespaces this instance hosts, and the broker subscriptions that follow them.

Pure bookkeeping over two callables (``subscribe``/``unsubscribe``), so the lifecycle
rules are unit-tested without a socket:

* get-or-create: concurrent connects to one path share one creation; the namespace is
  published only after its channel subscription is confirmed (no loss window);
* drop: the namespace goes at once; its subscription lingers briefly against churn and
  is reused if the path comes back in time;
* an unsubscribe still in flight is awaited before subscribing again, so
  drop -> re-create -> subscribe always ends subscribed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from .errors import OverCapacity

logger = logging.getLogger("sanic_wsns")

N = TypeVar("N")


class Registry(Generic[N]):
    def __init__(
        self,
        *,
        max_namespaces: int,
        linger: float,
        subscribe: Callable[[str], Awaitable[None]],
        unsubscribe: Callable[[str], Awaitable[None]],
    ):
        self.max_namespaces = max_namespaces
        self.linger = linger
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self._hosted: dict[str, N] = {}
        self._creating: dict[str, asyncio.Task[N]] = {}
        self._subscribed: set[str] = set()
        self._lingering: dict[str, asyncio.TimerHandle] = {}
        self._unsubscribing: dict[str, asyncio.Task[None]] = {}
        self.created = 0
        self.dropped = 0

    def get(self, path: str) -> N | None:
        return self._hosted.get(path)

    def __len__(self) -> int:
        return len(self._hosted)

    def __iter__(self) -> Iterator[N]:
        return iter(list(self._hosted.values()))

    @property
    def channels(self) -> frozenset[str]:
        """Channels subscribed now, lingering ones included."""
        return frozenset(self._subscribed)

    @property
    def pending(self) -> int:
        """Timers and unsubscribe tasks still alive (zero once everything has settled)."""
        return len(self._lingering) + len(self._unsubscribing) + len(self._creating)

    async def get_or_create(self, path: str, channel: str, build: Callable[[], N]) -> N:
        """The hosted namespace for ``path``, created (and subscribed) if missing.

        The creation runs in a task of its own that every caller waits on: a caller
        cancelled meanwhile (its connection reset) neither fails the others nor stops a
        subscription half way; the namespace is hosted all the same (``settle`` lets
        whoever gave up find it and drop it if nobody came)."""
        hosted = self._hosted.get(path)
        if hosted is not None:
            return hosted
        creating = self._creating.get(path)
        if creating is None:
            if len(self._hosted) + len(self._creating) >= self.max_namespaces:
                raise OverCapacity(f"this instance hosts {self.max_namespaces} namespaces already")
            creating = self._creating[path] = asyncio.get_running_loop().create_task(
                self._create(path, channel, build), name=f"wsns-create {path}")
            creating.add_done_callback(_retrieved)
        return await asyncio.shield(creating)

    async def _create(self, path: str, channel: str, build: Callable[[], N]) -> N:
        try:
            await self._acquire(channel)
            namespace = build()
        finally:
            del self._creating[path]
        self._hosted[path] = namespace
        self.created += 1
        return namespace

    async def settle(self, path: str) -> N | None:
        """The namespace hosted for ``path`` once a creation in flight ended (``None``
        when there is none, or it failed)."""
        creating = self._creating.get(path)
        if creating is not None:
            await asyncio.wait({creating})
        return self._hosted.get(path)

    def drop(self, path: str, channel: str) -> N | None:
        """Stop hosting ``path``; its channel is released after the linger."""
        namespace = self._hosted.pop(path, None)
        if namespace is None:
            return None
        self.dropped += 1
        if self.linger > 0:
            loop = asyncio.get_running_loop()
            self._lingering[channel] = loop.call_later(self.linger, self._release, channel)
        else:
            self._release(channel)
        return namespace

    async def close(self) -> None:
        """Drop every subscription now (shutdown)."""
        for timer in self._lingering.values():
            timer.cancel()
        self._lingering.clear()
        self._hosted.clear()
        for channel in list(self._subscribed):
            self._release(channel)
        if self._unsubscribing:
            await asyncio.gather(*self._unsubscribing.values(), return_exceptions=True)

    async def _acquire(self, channel: str) -> None:
        timer = self._lingering.pop(channel, None)
        if timer is not None:
            timer.cancel()
            return
        leaving = self._unsubscribing.get(channel)
        if leaving is not None:
            await asyncio.shield(leaving)
        await self._subscribe(channel)
        self._subscribed.add(channel)

    def _release(self, channel: str) -> None:
        self._lingering.pop(channel, None)
        self._subscribed.discard(channel)
        task = asyncio.get_running_loop().create_task(self._unsubscribe_quietly(channel))
        self._unsubscribing[channel] = task

    async def _unsubscribe_quietly(self, channel: str) -> None:
        try:
            await self._unsubscribe(channel)
        except Exception:
            logger.exception("unsubscribe failed channel=%s", channel)
        finally:
            if self._unsubscribing.get(channel) is asyncio.current_task():
                del self._unsubscribing[channel]


def _retrieved(task: asyncio.Task[N]) -> None:
    """Mark a failed creation's exception seen: its callers got it, if any were left."""
    if not task.cancelled():
        task.exception()
