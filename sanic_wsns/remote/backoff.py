"""Reconnect delays with exponential growth and full jitter, without I/O (wsns.js's ``Backoff``).

Attempt ``n`` waits a random time in ``[0, min(max, base * factor ** n))``: full jitter
spreads a thousand clients that lost one server over the whole window instead of having
them knock together. The count starts again once a connection stayed open ``stable_after``
seconds, so a server that welcomes then drops at once is not hammered. A server's retry
hint (a 1013 "retry_after=N") comes first: the jittered delay is added to it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 0.5
    max: float = 20.0
    factor: float = 2.0
    stable_after: float = 10.0
    random: Callable[[], float] = field(default=random.random, repr=False)
    now: Callable[[], float] = field(default=time.monotonic, repr=False)
    #: Failed attempts since the last stable connection.
    failures: int = 0
    _opened_at: float | None = field(default=None, repr=False)

    def next(self, not_before: float = 0.0) -> float:
        """The delay before the next attempt, in seconds; counts the attempt as failed.
        ``not_before``: the server's retry hint, added to the jitter so that clients
        refused together come back spread over the window after it, not at its end."""
        cap = min(self.max, self.base * self.factor ** self.failures)
        self.failures += 1
        return not_before + self.random() * cap

    def opened(self) -> None:
        """A connection was welcomed."""
        self._opened_at = self.now()

    def closed(self) -> None:
        """A welcomed connection ended: start again from ``base`` when it was stable."""
        if self._opened_at is not None and self.now() - self._opened_at >= self.stable_after:
            self.failures = 0
        self._opened_at = None
