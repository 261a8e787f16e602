"""The broker boundary: the one thing instances share is a pipe of bytes per channel.

A backend is a handful of methods (see ``Broker``); a URL scheme picks it. The core
never asks a broker for state: it only subscribes the channels of the namespaces it
hosts, publishes encoded frames, and hears back through two callbacks.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..history import History
from ..presence import Entries
from ..recovery import Entry, Position

#: ``on_message(channel, payload)`` — a payload published by any instance.
MessageCallback = Callable[[str, bytes], None]
#: ``on_restored(channels)`` — these channels are subscribed again, after the broker came back
#: or after they moved to another server (a Redis Cluster failover or resharding); messages
#: published meanwhile may have been missed.
RestoredCallback = Callable[[Iterable[str]], None]


class Broker(abc.ABC):
    """Carries opaque payloads between instances, one channel per namespace.

    Contract every backend keeps:

    * ``connect`` never raises because the broker is unreachable: it starts retrying in
      the background (backoff capped at 5 s) and the instance runs locally meanwhile.
    * ``subscribe`` returns once the subscription is confirmed, so a client admitted
      afterwards cannot miss a message. While disconnected it returns at once; the
      channel is subscribed on reconnection and ``on_restored`` is called for it.
    * ``publish`` never blocks and never raises: payloads leave in call order, and a
      payload that cannot be sent is counted in ``stats()["publish_failed"]`` and logged.
      It returns ``False`` when it refused the payload at once (broker away, outbox
      full), so an app that asks (``broadcast(..., strict=True)``) can be told.
    * A backend holds no subscription besides the channels it was asked for.

    For request keys (``idempotency.py``) a backend keeps one short-lived key per keyed
    request (``claim_request``, ``settle_request``).

    For patterns with ``history`` or ``presence`` a backend also keeps, per channel, a
    numbered history and a presence set (``publish_numbered`` … ``presence_get``): shared
    state, but only what those features need, in the broker that already carries the
    messages (Redis: one atomic script per operation).
    """

    scheme: str = ""

    def __init__(
        self,
        url: str,
        on_message: MessageCallback,
        on_restored: RestoredCallback,
        **options: Any,
    ):
        self.url = url
        self.options = options
        self._on_message = on_message
        self._on_restored = on_restored

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

    def publish_written(self, channel: str, payload: bytes) -> asyncio.Future[bool]:
        """``publish``, and a future that turns ``True`` once the broker has written the
        payload (its server acknowledged it) or ``False`` if it refused or lost it: what a
        transactional outbox needs before it marks a frame sent. A backend that delivers at
        once (memory) keeps this default."""
        written = asyncio.get_running_loop().create_future()
        written.set_result(self.publish(channel, payload))
        return written

    @abc.abstractmethod
    async def publish_numbered(self, channel: str, frame_head: bytes, message: bytes,
                               history: History, once: str | None = None,
                               window: float = 0.0) -> Position:
        """Give a frame the channel's next offset, keep ``frame_head + ,"offset":N}`` in its
        history, and publish ``message`` behind the offset header (``relay.history_payload``),
        atomically and in call order. With ``once`` (a broadcast key's name), a frame whose
        key was published within ``window`` seconds is not published again: the first one's
        position is returned, in the same atomic step. Raises ``BrokerUnavailable`` when it
        cannot."""

    @abc.abstractmethod
    async def read_history(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        """The channel's last position and its kept frames with an offset above ``after``;
        fixes the channel's epoch if it has none yet. Raises when the broker is away."""

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

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Health and counters: at least ``connected``, ``published``, ``publish_failed``,
        ``received``, ``subscriptions``, ``reconnects``."""


def redact(url: str) -> str:
    """``url`` without its password, for logs and stats."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))
