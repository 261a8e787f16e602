"""Helpers of the Python client's tests: a client with test-friendly timings, and a log of
its states to await (every wait bounded)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from sanic_wsns import remote

TIMEOUT = 5.0
_memory_hubs = itertools.count()


def fast(url: str, **options: Any) -> remote.connect:
    """``remote.connect`` with retries in milliseconds and resync listeners run at once."""
    options = {"backoff_base": 0.02, "backoff_max": 0.1, "resync_jitter": 0, "connect_timeout": TIMEOUT,
               "request_timeout": TIMEOUT, **options}
    return remote.connect(url, **options)


class States:
    """Every state a namespace went through (with its ``Ending``), awaitable."""

    def __init__(self, ns: remote.RemoteNamespace):
        self.seen: list[tuple[str, remote.Ending | None]] = []
        self._changed = asyncio.Event()
        ns.on("state", self._record)

    def _record(self, state: remote.State, ending: remote.Ending | None) -> None:
        self.seen.append((state.value, ending))
        self._changed.set()

    @property
    def names(self) -> list[str]:
        return [state for state, _ in self.seen]

    async def reach(self, state: str, count: int = 1, timeout: float = TIMEOUT) -> remote.Ending | None:
        """Wait until ``state`` was entered ``count`` times; its last ``Ending``."""
        async with asyncio.timeout(timeout):
            while self.names.count(state) < count:
                self._changed.clear()
                await self._changed.wait()
        return [ending for name, ending in self.seen if name == state][-1]


async def until_presence(ns: remote.RemoteNamespace, holds: Callable[[], bool]) -> None:
    """Wait (bounded) until ``holds()`` is true, checking after every presence frame."""
    changed = asyncio.Event()
    stop = ns.on("presence", lambda presence, change: changed.set())
    try:
        async with asyncio.timeout(TIMEOUT):
            while not holds():
                changed.clear()
                await changed.wait()
    finally:
        stop()


async def next_frame(stream: remote.FrameStream, timeout: float = TIMEOUT) -> remote.Frame:
    async with asyncio.timeout(timeout):
        return await anext(stream)


@pytest.fixture(params=["memory", "redis"])
def broker(request) -> str:
    """A broker URL, once memory:// (a fresh hub shared by this test's instances) and once
    a real redis-server."""
    if request.param == "memory":
        return f"memory://remote-{next(_memory_hubs)}"
    return request.getfixturevalue("redis_server").url
