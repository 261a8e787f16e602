"""Per-client rate limiting, as pure arithmetic over a caller-supplied clock."""

from __future__ import annotations


class TokenBucket:
    """Allows ``rate`` messages per second on average and bursts of up to ``burst``.

    It also counts what it refused, so a client that keeps going after being told can be
    recognised: ``abusive`` turns true once more than ``abuse_limit`` messages were
    refused within ``abuse_window`` seconds.
    """

    __slots__ = ("rate", "burst", "tokens", "stamp", "abuse_limit", "abuse_window",
                 "_refused", "_window_start")

    def __init__(self, rate: float, burst: float, now: float,
                 abuse_limit: int = 1000, abuse_window: float = 10.0):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now
        self.abuse_limit = abuse_limit
        self.abuse_window = abuse_window
        self._refused = 0
        self._window_start = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; a refusal is counted towards abuse."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        if now - self._window_start > self.abuse_window:
            self._window_start = now
            self._refused = 0
        self._refused += 1
        return False

    def retry_after(self) -> float:
        """Seconds until the next token, for the ``rate_limited`` retry hint."""
        return max(0.0, (1.0 - self.tokens) / self.rate) if self.rate > 0 else float("inf")

    @property
    def abusive(self) -> bool:
        return self._refused > self.abuse_limit
