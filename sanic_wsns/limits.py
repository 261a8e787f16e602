"""Limits without I/O: per-client rate limiting over a caller-supplied clock, and the
per-instance connection caps."""

from __future__ import annotations

from collections.abc import Hashable


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


class ConnectionCaps:
    """Counts this instance's connections, in total and per identity, against two
    optional caps (``None``: no cap). ``acquire`` and ``release`` pair up per connection.

    Only clients with an identity (not ``None``) count per identity; an unhashable one
    raises ``TypeError`` when a per-identity cap is set.
    """

    __slots__ = ("total_cap", "identity_cap", "total", "_per_identity")

    def __init__(self, total_cap: int | None, identity_cap: int | None):
        self.total_cap = total_cap
        self.identity_cap = identity_cap
        self.total = 0
        self._per_identity: dict[Hashable, int] = {}

    def acquire(self, identity: object) -> bool:
        """Count one more connection if both caps allow it; ``False`` (nothing counted) if not."""
        if self.total_cap is not None and self.total >= self.total_cap:
            return False
        if self.identity_cap is not None and identity is not None:
            held = self._per_identity.get(identity, 0)
            if held >= self.identity_cap:
                return False
            self._per_identity[identity] = held + 1
        self.total += 1
        return True

    def release(self, identity: object) -> None:
        """One connection counted by ``acquire(identity)`` ended."""
        self.total -= 1
        if self.identity_cap is not None and identity is not None:
            held = self._per_identity.pop(identity, 0) - 1
            if held > 0:
                self._per_identity[identity] = held

    def held(self, identity: object) -> int:
        """Connections counted for ``identity`` now."""
        return self._per_identity.get(identity, 0)
