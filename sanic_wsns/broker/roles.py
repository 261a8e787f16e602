"""What a broker does, by role: each consumer depends on the role it uses, not on a backend.

* ``PubSub``: carry payloads between instances, one channel per namespace (every broker);
* ``HistoryStore``: a numbered, bounded history per channel (patterns with ``history``);
* ``PresenceStore``: who is in each channel, with expiry, and the deployment-wide counts
  behind ``occupancy``/``online`` (``occupancy.OccupancyStore``) (patterns with ``presence``;
  ``tracker.Tracker`` takes only this);
* ``RequestStore``: a short-lived key per keyed request (``idempotency.RequestKeys``).

A backend (``base.Broker``) plays every role, in the broker that already carries the
messages (Redis: one atomic script per operation, ``redis_history``, ``redis_presence``,
``redis_requests``). Like centrifuge's ``Broker`` and ``PresenceManager``, a backend is
built on its own and the hub registers what handles its events afterwards
(``PubSub.register``).

A leaf: it imports only the value types of its signatures.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..history import History
    from ..occupancy import OccupancyStore
    from ..presence import Entries
    from ..recovery import Entry, Position

#: ``on_message(channel, payload)`` — a payload published by any instance.
MessageCallback = Callable[[str, bytes], None]
#: ``on_restored(channels)`` — these channels are subscribed again, after the broker came back
#: or after they moved to another server (a Redis Cluster failover or resharding); messages
#: published meanwhile may have been missed.
RestoredCallback = Callable[[Iterable[str]], None]


class PubSub(Protocol):
    """Carries opaque payloads between instances, one channel per namespace."""

    @abc.abstractmethod
    def register(self, on_message: MessageCallback, on_restored: RestoredCallback) -> None:
        """Hand what the broker brings to these two (before ``connect``; once)."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """Whether payloads can flow right now."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Start the backend; never raises for an unreachable broker."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Stop every background task and drop every subscription."""

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Subscribe ``channel``; returns once confirmed (or at once while disconnected)."""

    @abc.abstractmethod
    async def unsubscribe(self, channel: str) -> None:
        """Drop ``channel``; payloads for it stop arriving."""

    @abc.abstractmethod
    def publish(self, channel: str, payload: bytes) -> bool:
        """Queue ``payload`` for every subscriber of ``channel``, this instance included;
        ``False`` if it was refused (and counted as failed) at once."""

    @abc.abstractmethod
    def publish_written(self, channel: str, payload: bytes) -> asyncio.Future[bool]:
        """``publish``, and a future that turns ``True`` once the broker has written the
        payload (its server acknowledged it) or ``False`` if it refused or lost it: what a
        transactional outbox needs before it marks a frame sent."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Health and counters: at least ``connected``, ``published``, ``publish_failed``,
        ``received``, ``subscriptions``, ``reconnects``."""


class HistoryStore(Protocol):
    """A numbered, bounded history per channel, and the publish that numbers a frame."""

    @abc.abstractmethod
    def publish_numbered(self, channel: str, frame_head: bytes, message: bytes,
                         history: History, once: str | None = None,
                         window: float = 0.0) -> asyncio.Future[Position]:
        """Give a frame the channel's next offset, keep ``frame_head + ,"offset":N}`` in its
        history, and publish ``message`` behind the offset header (``relay.history_payload``),
        atomically and in call order: queued at the call (a plain method, so that a
        broadcast nobody awaits keeps its place), the future turns into the frame's position.
        With ``once`` (a broadcast key's name), a frame whose key was published within
        ``window`` seconds is not published again: the future gets the first one's position,
        in the same atomic step. The future holds ``BrokerUnavailable`` when it cannot (never
        raised at the call)."""

    @abc.abstractmethod
    async def read_history(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        """The channel's last position and its kept frames with an offset above ``after``;
        fixes the channel's epoch if it has none yet. Raises when the broker is away."""


class PresenceStore(Protocol):
    """The broker's shared presence (Redis: a hash and a sorted set per namespace)."""

    @abc.abstractmethod
    async def presence_add(self, channel: str, entries: list[tuple[str, bytes]], ttl: float) -> list[str]:
        """Add or refresh entries (client id, public JSON) for ``ttl`` seconds; the new ids."""

    @abc.abstractmethod
    async def presence_remove(self, channel: str, client_ids: list[str]) -> list[str]:
        """Remove entries; the ids that were present."""

    @abc.abstractmethod
    async def presence_expire(self, channel: str, limit: int) -> list[str]:
        """Remove up to ``limit`` expired entries; their ids, each handed to one caller."""

    @abc.abstractmethod
    async def presence_get(self, channel: str) -> Entries:
        """The entries not expired: client id → public JSON."""

    @property
    @abc.abstractmethod
    def occupancy(self) -> OccupancyStore:
        """The shared counts behind ``occupancy``, ``online`` and the occupied/vacated hooks
        (``occupancy.py``)."""


class RequestStore(Protocol):
    """The broker's role for request keys (``memory://`` and Redis implement it)."""

    @abc.abstractmethod
    async def claim_request(self, channel: str, name: str, window: float) -> bytes | None:
        """Claim the request key ``name`` of ``channel`` for ``window`` seconds: ``None`` if
        this call claimed it (run the request), else what is kept for it, ``RUNNING`` (b"")
        or the first run's answer (``idempotency.py``). Raises ``BrokerUnavailable``."""

    @abc.abstractmethod
    def settle_request(self, channel: str, name: str, answer: bytes, window: float,
                       claimed: bool = True) -> None:
        """Keep ``answer`` for the claimed key until its window ends (``claimed=False``:
        whether or not the claim is there); never blocks, never raises (a lost answer
        leaves repeats waiting, then answered ``conflict``)."""

    @abc.abstractmethod
    def release_request(self, channel: str, name: str) -> None:
        """Forget the claim of a request that never ran (its connection closed while it
        waited behind others), so that a re-send runs it; a key holding an answer stays.
        Never blocks, never raises."""
