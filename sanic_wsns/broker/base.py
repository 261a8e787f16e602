"""The broker boundary: the one thing instances share is a pipe of bytes per channel.

A backend plays the roles of ``roles.py``; a URL scheme picks it, or the app builds it and
passes it (``WsNamespaces(app, broker=RedisBroker(url))``). The core never asks a broker
for state: it only subscribes the channels of the namespaces it hosts, publishes encoded
frames, and hears back through the two callbacks it registers.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .roles import HistoryStore, MessageCallback, PresenceStore, PubSub, RequestStore, RestoredCallback

logger = logging.getLogger("sanic_wsns")


class Broker(PubSub, HistoryStore, PresenceStore, RequestStore, abc.ABC):
    """Every role of ``roles.py`` in one backend, one channel per namespace.

    Contract every backend keeps:

    * It is built on its own (``RedisBroker(url)``, or by ``create_broker`` from a URL) and
      hears nothing until the hub ``register``s the handlers of what it brings (before
      ``connect``), as centrifuge's ``RegisterBrokerEventHandler``.
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
    request; for patterns with ``history`` or ``presence``, per channel, a numbered history
    and a presence set: shared state, but only what those features need.
    """

    scheme: str = ""

    def __init__(
        self,
        url: str,
        on_message: MessageCallback | None = None,
        on_restored: RestoredCallback | None = None,
        **options: Any,
    ):
        self.url = url
        self.options = options
        self._registered = on_message is not None
        self._on_message: MessageCallback = on_message or _unheard
        self._on_restored: RestoredCallback = on_restored or _nothing_restored

    def register(self, on_message: MessageCallback, on_restored: RestoredCallback) -> None:
        """Hand what this broker brings to ``on_message`` and ``on_restored`` (the hub's):
        once, before ``connect``. ``ConfigError`` for a broker that serves a hub already
        (two instances on one broker object would each take the other's payloads); the
        same hub registering again (a server started anew) is fine."""
        if self._registered and (on_message, on_restored) != (self._on_message, self._on_restored):
            raise ConfigError(f"this {type(self).__name__} serves a WsNamespaces already: "
                              f"give each its own broker")
        self._registered = True
        self._on_message = on_message
        self._on_restored = on_restored

    def publish_written(self, channel: str, payload: bytes) -> asyncio.Future[bool]:
        """``publish``, and a future with its outcome; a backend that delivers at once
        (memory) keeps this default."""
        written = asyncio.get_running_loop().create_future()
        written.set_result(self.publish(channel, payload))
        return written

    async def shared_secret(self, key: str, candidate: bytes) -> bytes:
        """The secret every instance on this broker agrees on under ``key``: the first to
        ask stores its ``candidate``, the others get that one. ``memory://`` joins one
        process: its own ``candidate``. Raises ``BrokerUnavailable``."""
        return candidate


def _unheard(channel: str, payload: bytes) -> None:
    """Until ``register``: a broker used to publish only (``Emitter``) hears nothing."""
    logger.debug("broker payload with no handler registered channel=%s", channel)


def _nothing_restored(channels: Iterable[str]) -> None:
    """Until ``register``: no namespace to tell."""


def redact(url: str) -> str:
    """``url`` without its password, for logs and stats."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))
