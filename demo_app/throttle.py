"""Rate limits per key (a user, a name from an address), over the extension's token bucket.

Buckets live in this instance's memory: with N instances behind a balancer a key gets
at most N times the rate, which is enough to stop a script and costs no shared state.
The table is bounded, and no bucket is ever forgotten before it has refilled (an idle
key, which a fresh bucket replaces exactly): forgetting a key that is still spending
would hand it a full bucket, so flooding fresh keys would reset any key's budget. When
the table is full of keys still spending, a new key is refused (429) until one refills.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sanic_wsns import WsnsError
from sanic_wsns.limits import TokenBucket


class TooManyRequests(WsnsError):
    """HTTP 429; ``retry_after`` (seconds) becomes the ``Retry-After`` header."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float):
        super().__init__(message, details={"retry_after": round(retry_after, 3)})
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rate:
    """``per_second`` on average, bursts of ``burst``."""

    per_second: float
    burst: int


class Throttle:
    def __init__(self, rate: Rate, what: str, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.what = what
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def check(self, key: str) -> None:
        """Spend one of ``key``'s tokens; raises ``TooManyRequests`` when none is left, or
        when ``key`` is new and every place in the table holds a key still spending."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = TokenBucket(self.rate.per_second, self.rate.burst, now)
        else:
            self._buckets.move_to_end(key)
        if not bucket.take(now):
            raise TooManyRequests(f"too many {self.what}: slow down", bucket.retry_after())

    def refund(self, key: str) -> None:
        """Give back one token ``key`` spent (when what it paid for turned out not to count:
        a sign-in that succeeded, for a throttle of failures). Never more than a full
        bucket, so a run of successes cannot bank tokens."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.burst, bucket.tokens + 1.0)

    def keys(self) -> list[str]:
        """The keys this throttle remembers (at most ``max_keys``)."""
        return list(self._buckets)

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self.max_keys:
            return
        refilled = self.rate.burst / self.rate.per_second
        for key in [k for k, b in self._buckets.items() if now - b.stamp >= refilled]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            oldest = next(iter(self._buckets.values()))
            raise TooManyRequests(f"too many {self.what} right now: try again later",
                                  refilled - (now - oldest.stamp))
