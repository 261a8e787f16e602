"""One keepalive sweep for every client, instead of Sanic's ping task per connection.

Sanic gives each WebSocket a task that sleeps, pings and waits for the pong. For many
idle connections that task was the largest cost sanic-wsns left on top of the socket
(bench W3: ~1.5 KiB of the connection's memory). One timer walking every client does the
same job with Sanic's own settings (``WEBSOCKET_PING_INTERVAL``/``_TIMEOUT``): a client
whose ping stays unanswered past the timeout is closed with 1011, as Sanic would.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

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
