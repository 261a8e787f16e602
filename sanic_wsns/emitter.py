"""Broadcast into namespaces from a process that is not a Sanic server: a Celery or RQ
worker, a cron job, a management command.

An ``Emitter`` publishes exactly as an instance would: the same channel (the
``channel_prefix`` and the canonical path), the same relay message around the same encoded
frame, and, for a pattern that keeps history, an offset from the same broker script, so
the instances' clients cannot tell an emitted frame from one broadcast by an instance.
It holds no subscription and hosts no namespace. ``Emitter`` is the asyncio flavour;
``SyncEmitter`` runs one in a thread of its own for code that is not async.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from .broker import Broker, create_broker
from .errors import BrokerUnavailable, ConfigError
from .history import History
from .idempotency import broadcast_name
from .paths import PathTemplate
from .pattern import Pattern
from .protocol import encode, ws_text_frame
from .recovery import Position
from .relay import Kind, RelayMessage, encode_relay

T = TypeVar("T")

#: What the emitter needs to know of a pattern: its template, and the history it keeps.
Patterns = Mapping[str, History | None] | Iterable[Pattern]


class Emitter:
    """``async with Emitter("redis://...", patterns={"/ws/rooms/<room_id:int>": None}) as em:``
    then ``await em.broadcast("/ws/rooms/7", "said", {...})``.

    ``patterns`` names the app's patterns, each with the ``History`` it keeps (or ``None``):
    a mapping of templates, or the app's own ``Pattern`` objects when the worker imports
    the app. A path that matches none of them is refused (``ValueError``): its frames
    would never be numbered right.
    """

    def __init__(self, broker: str, *, patterns: Patterns, channel_prefix: str = "wsns:",
                 idempotency_window: float = 300.0):
        self._templates = _templates(patterns)
        self._channel_prefix = channel_prefix
        #: The app's ``WSNS_IDEMPOTENCY_WINDOW``: how long a broadcast key is remembered.
        self.idempotency_window = idempotency_window
        #: Like an instance id: instances skip their own echoes by it, and an emitter has none.
        self.origin = f"emitter-{secrets.token_hex(6)}"
        self._broker: Broker = create_broker(broker)  # publishes only: registers no handler
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect to the broker (retrying in the background if it is away, as an instance does)."""
        await self._broker.connect()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._broker.disconnect()

    async def broadcast(self, path: str, type: str, data: Any = None, *,
                        key: str | None = None) -> Position | None:
        """Send ``{type, data}`` to every client of ``path`` on every instance; returns once
        the broker has it. In a history namespace it returns the frame's position; raises
        ``BrokerUnavailable`` when the broker did not take the frame. With ``key``, a
        broadcast whose key was sent within the window (by this emitter, another one or an
        instance) is not sent again: a retried task publishes once."""
        if not self._started:
            raise ConfigError("start the emitter first: async with Emitter(...) as emitter")
        canonical, history = self._resolve(path)
        channel = self._channel_prefix + canonical
        once = None if key is None else broadcast_name(key)
        window = self.idempotency_window
        if history is None:
            if once is not None and await self._broker.claim_request(channel, once, window) is not None:
                return None  # the key's first broadcast went out already
            frame = ws_text_frame(encode(type, data))
            message = encode_relay(RelayMessage(self.origin, Kind.FRAME, frame))
            if not await self._broker.publish_written(channel, message):
                raise BrokerUnavailable(f"broadcast to {canonical} was not written by the broker")
            return None
        head = encode(type, data)[:-1]  # the closing brace comes after the offset
        message = encode_relay(RelayMessage(self.origin, Kind.FRAME, head))
        return await self._broker.publish_numbered(channel, head, message, history, once, window)

    def _resolve(self, path: str) -> tuple[str, History | None]:
        """The canonical path of ``path`` (as the instances name its channel) and its history."""
        for template, history in self._templates:
            params = template.match(path)
            if params is not None:
                return template.format(params), history
        known = ", ".join(template.pattern for template, _ in self._templates)
        raise ValueError(f"{path!r} matches none of the emitter's patterns ({known})")


class SyncEmitter:
    """``Emitter`` for code that is not async (a Celery task): ``with SyncEmitter(...) as em:``
    then ``em.broadcast(path, type, data)``, which blocks until the broker has the frame.
    One thread runs the emitter's event loop; the emitter is safe to share between threads."""

    def __init__(self, broker: str, *, patterns: Patterns, channel_prefix: str = "wsns:",
                 idempotency_window: float = 300.0):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wsns-emitter", daemon=True)
        self._emitter = Emitter(broker, patterns=patterns, channel_prefix=channel_prefix,
                                idempotency_window=idempotency_window)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        self._run(self._emitter.start())

    def stop(self) -> None:
        if self._thread.is_alive():
            self._run(self._emitter.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def broadcast(self, path: str, type: str, data: Any = None, *, key: str | None = None,
                  timeout: float = 10.0) -> Position | None:
        """``Emitter.broadcast``, waiting at most ``timeout`` seconds (``TimeoutError``)."""
        return self._run(self._emitter.broadcast(path, type, data, key=key), timeout)

    def _run(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        done: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return done.result(timeout)


def _templates(patterns: Patterns) -> list[tuple[PathTemplate, History | None]]:
    if isinstance(patterns, Mapping):
        return [(PathTemplate(template), history) for template, history in patterns.items()]
    return [(pattern.template, pattern.history) for pattern in patterns]
