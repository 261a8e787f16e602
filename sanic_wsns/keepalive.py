"""One keepalive sweep for every client, instead of Sanic's ping task per connection.

Sanic gives each WebSocket a task that sleeps, pings and waits for the pong. For many
idle connections that task was the largest cost sanic-wsns left on top of the socket
(bench W3: ~1.5 KiB of the connection's memory). One timer walking every client does the
same job with Sanic's own settings (``WEBSOCKET_PING_INTERVAL``/``_TIMEOUT``): a client
whose ping stays unanswered past the timeout is closed with 1011, as Sanic would.

An SSE stream has no pong to wait for: ``HeartbeatSweep`` has every stream of the
instance write its ``: ping`` comment each period (the streams' own, which holds when
Sanic's interval is 0 too), on one timer.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .interfaces import KeptAlive


class KeepaliveAction(enum.Enum):
    """What one sweep does to one client (not ``recovery.Step``, a history feed's step)."""

    WAIT = 0  # nothing due yet
    PING = 1  # send a ping
    TIMED_OUT = 2  # the last ping went unanswered too long: close


def keepalive_action(now: float, pinged_at: float, awaiting_pong: bool,
                   interval: float, timeout: float) -> KeepaliveAction:
    """The keepalive rule for one client, without I/O: while a ping is unanswered, time
    out after ``timeout``; otherwise ping once ``interval`` has passed since the last."""
    if awaiting_pong:
        return KeepaliveAction.TIMED_OUT if now - pinged_at >= timeout else KeepaliveAction.WAIT
    return KeepaliveAction.PING if now - pinged_at >= interval else KeepaliveAction.WAIT


class KeepaliveSweep:
    """Calls ``client.keepalive`` for every client, every ``min(interval, timeout) / 2``
    seconds, so a dead peer is closed at most half a period after its timeout."""

    def __init__(self, interval: float, timeout: float, clients: Callable[[], Iterable[KeptAlive]]):
        self.interval = interval
        self.timeout = timeout
        self.period = min(interval, timeout) / 2
        self._clients = clients
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.period, self._sweep)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for client in self._clients():
            client.keepalive(now, self.interval, self.timeout)
        self._timer = loop.call_later(self.period, self._sweep)


class Beating(Protocol):
    """A connection ``HeartbeatSweep`` keeps alive (``sse_stream.EventStream``)."""

    def beat(self) -> None: ...


class HeartbeatSweep:
    """One timer that has every SSE stream of the instance write its ``: ping`` comment
    every ``period`` seconds, armed while there is a stream to ping.

    A stream used to sleep between its pings: a coroutine, a future and a timer handle
    per idle stream (~0.6 KiB, ``python -m bench.memory --kinds sse``), where a
    WebSocket has none (``KeepaliveSweep``). A stream still goes at most ``period``
    without a ping, as it did."""

    __slots__ = ("period", "_streams", "_timer")

    def __init__(self) -> None:
        self.period = 0.0
        self._streams: set[Beating] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, stream: Beating, period: float) -> None:
        """Ping ``stream`` every ``period`` seconds from now on (the period of the latest
        stream: every stream of an instance has the same)."""
        self.period = period
        self._streams.add(stream)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(period, self._sweep)

    def discard(self, stream: Beating) -> None:
        """``stream`` ended; the timer goes with the last one."""
        self._streams.discard(stream)
        if not self._streams:
            self.stop()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        self._timer = None
        for stream in self._streams:  # a beat only writes: it neither adds nor ends a stream
            stream.beat()
        if self._streams:
            self._timer = asyncio.get_running_loop().call_later(self.period, self._sweep)
