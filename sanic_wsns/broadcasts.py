"""Broadcasts and relays: what goes out to the broker and what comes back from it.

A broadcast is encoded once, written to this instance's clients of its path and handed to
the broker as the relay payload (``relay.py``'s wire format); in a history namespace the
broker numbers it first: this instance delivers it from the numbering's reply, the others
when it comes to them (both in offset order, through the namespace's ``Feed``). What the
broker brings is decoded here: frames go to the namespace hosted on the channel (through
its ``Feed`` when numbered), a presence diff to the ``Tracker``, and what concerns hosting
(a namespace removed, a user disconnected) to the handlers the hub gave.
When the broker comes back after a loss, ``on_restored`` tells the namespaces of the
channels it restored (and the tracker) that frames may have been missed.

The hub keeps who is where (``hub.py``); this module knows channels, payloads and the
broker, and finds a namespace by path in the hub's registry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from .broadcast_handle import Broadcast, retrieved
from .errors import BrokerUnavailable
from .feed import resync_frame
from .idempotency import broadcast_name
from .protocol import encode, ws_text_frame
from .recovery import ResyncReason
from .relay import Kind, RelayMessage, decode_relay, encode_relay, split_history

if TYPE_CHECKING:
    from .broker import Broker
    from .config import Settings
    from .history import History
    from .instance_stats import InstanceStats
    from .interfaces import Exclude
    from .metrics import Metrics
    from .namespace import Namespace
    from .recovery import Position
    from .registry import Registry
    from .tracker import Tracker

logger = logging.getLogger("sanic_wsns")

#: ``on_remove(path, code, reason)``, ``on_disconnect(user, code, reason)``: what another
#: instance asked of this one's hosting.
OnRemove = Callable[[str, int, str], None]
OnDisconnect = Callable[[str | int, int, str], None]
#: ``spawn(work, name)``: run ``work`` in a task the hub keeps (and waits for at ``stop``).
Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class Broadcasts:
    """One instance's side of the broker's traffic; see the module docstring."""

    def __init__(self, instance_id: str, settings: Settings, registry: Registry[Namespace],
                 counts: InstanceStats, broker: Callable[[], Broker],
                 metrics: Callable[[], Metrics | None], tracker: Callable[[], Tracker | None],
                 on_remove: OnRemove, on_disconnect: OnDisconnect, spawn: Spawn):
        self.instance_id = instance_id
        self._settings = settings
        self._registry = registry
        self._counts = counts
        self._broker = broker
        self._metrics = metrics
        self._on_remove = on_remove
        self._on_disconnect = on_disconnect
        self._spawn = spawn
        #: The broker, the metrics and the tracker exist while the server runs (``Hub.start``).
        self._tracker = tracker

    # -- channel names --------------------------------------------------------------------------

    def channel(self, path: str) -> str:
        """The broker channel of a namespace path (``path_of`` reads it back)."""
        return self._settings.channel_prefix + path

    def path_of(self, channel: str) -> str:
        """The namespace path of a broker channel (``channel`` made it)."""
        return channel[len(self._settings.channel_prefix):]

    @property
    def control_channel(self) -> str:
        """The one channel every instance holds besides its namespaces' (from start to
        stop): ``disconnect(user)`` must reach instances whose namespaces the sender cannot
        know, in one message. Namespace paths start with ``/``, so it never names one."""
        return self._settings.channel_prefix + "control"

    # -- out ------------------------------------------------------------------------------------

    def broadcast(self, history: History | None, path: str, type: str, data: Any = None,
                  exclude: Exclude = None, *, strict: bool = False,
                  confirm: bool = False, key: str | None = None) -> Broadcast:
        """Send ``{type, data}`` to every client of ``path`` (canonical) on every instance:
        encoded and queued at the call, in call order; the handle tells how it ended (see
        ``Namespace.broadcast`` for ``strict``, ``confirm``, ``key`` and history)."""
        once = None if key is None else broadcast_name(key)
        if history is not None:
            return self._publish_numbered(history, path, type, data, exclude, once)
        frame = ws_text_frame(encode(type, data))
        if once is None:
            return self._send(path, frame, client_ids(exclude), strict, confirm)
        self._broker()  # not started: ConfigError here, at the call, not inside the task
        keyed = self._spawn(self._keyed(path, frame, client_ids(exclude), strict, confirm, once),
                            "wsns-keyed-broadcast")
        outcome = asyncio.shield(keyed)  # an awaiter that is cancelled does not stop it
        outcome.add_done_callback(retrieved)
        return Broadcast(path, outcome)

    async def _keyed(self, path: str, frame: bytes, excluded: tuple[str, ...], strict: bool,
                     confirm: bool, once: str) -> None:
        """A keyed broadcast without history: its key is claimed first (a round trip, hence
        a task of its own: a later broadcast overtakes it unless it is awaited), then it is
        sent as any other."""
        if await self.first_broadcast(self.channel(path), once):
            await self._send(path, frame, excluded, strict, confirm)

    def _send(self, path: str, frame: bytes, excluded: tuple[str, ...], strict: bool,
              confirm: bool) -> Broadcast:
        """Write ``frame`` to this instance's clients of ``path`` and hand it to the broker."""
        payload = self._deliver_here(path, frame, excluded)
        if confirm:
            return Broadcast(path, self._broker().publish_written(self.channel(path), payload))
        if self._broker().publish(self.channel(path), payload) or not strict:
            return Broadcast(path)
        return Broadcast(path, refusal=unrelayed(path))

    def publish(self, path: str, type: str, data: Any = None, exclude: Exclude = None,
                strict: bool = False) -> None:
        """Encode once, write to local clients, relay the same bytes (``path`` canonical).

        A broker failure is counted and logged by the broker; with ``strict`` it also
        raises ``BrokerUnavailable`` (after the local clients got the frame).
        """
        payload = self._deliver_here(path, ws_text_frame(encode(type, data)), client_ids(exclude))
        if not self._broker().publish(self.channel(path), payload) and strict:
            raise unrelayed(path)

    def _deliver_here(self, path: str, frame: bytes, excluded: tuple[str, ...]) -> bytes:
        """Write ``frame`` to this instance's clients of ``path``; the relay payload."""
        metrics = self._metrics()
        started = time.time() if metrics is not None else 0.0
        namespace = self._registry.get(path)
        if namespace is not None:
            namespace.deliver(frame, excluded)
        if metrics is not None:
            metrics.broadcast_seconds.observe(time.time() - started)
        return encode_relay(RelayMessage(self.instance_id, Kind.FRAME, frame, excluded, sent_at=started))

    async def first_broadcast(self, channel: str, once: str) -> bool:
        """Claim a keyed broadcast without history: ``False`` if its key was claimed within
        the window (by any instance or emitter). While the broker is away it cannot tell, and
        the broadcast goes to this instance's clients as any broadcast would (core idea 7)."""
        try:
            window = self._settings.idempotency_window
            return await self._broker().claim_request(channel, once, window) is None
        except BrokerUnavailable:
            return True

    def _publish_numbered(self, history: History, path: str, type: str, data: Any,
                          exclude: Exclude, once: str | None = None) -> Broadcast:
        """The broker numbers the frame, keeps it and publishes it: queued now, in call
        order with every other payload of this instance. This instance's clients are served
        from the script's reply (its echo over the link, one hop later, is then dropped
        undecoded); the other instances deliver it when it reaches them. Both go through the
        namespace's ``Feed``, in offset order: a reply that overtakes a frame numbered
        earlier on another instance waits there for it.

        A keyed broadcast is left to the link: its reply may be the position of the key's
        first broadcast, whose frame is not this one."""
        head = encode(type, data)[:-1]  # the closing brace comes after the offset
        started = time.time()
        metrics = self._metrics()
        excluded = client_ids(exclude)
        message = encode_relay(RelayMessage(self.instance_id, Kind.FRAME, head, excluded,
                                            sent_at=started if metrics else 0.0))
        numbered = self._broker().publish_numbered(self.channel(path), head, message, history,
                                                   once, self._settings.idempotency_window)
        # A callback, not code after an await: it runs whether or not anybody awaits.
        landed = Numbering(self, path, head, excluded, started, once is None).landed
        if numbered.done():  # memory://: numbered at the call, served before its echo
            landed(numbered)
        else:
            numbered.add_done_callback(landed)
        return Broadcast(path, numbered)

    def serve_numbered(self, numbering: Numbering, position: Position) -> None:
        """This instance's clients get its numbered frame (``Numbering.landed``)."""
        if numbering.serve:
            namespace = self._registry.get(numbering.path)
            if namespace is not None and namespace.feed is not None:
                namespace.feed.published(position.offset, position.epoch,
                                         numbered_frame(numbering.head, position.offset),
                                         numbering.excluded)
        metrics = self._metrics()
        if metrics is not None:
            metrics.broadcast_seconds.observe(time.time() - numbering.started)

    def announce(self, channel: str, joins: list[tuple[str, bytes]], leaves: list[str]) -> None:
        """Tell the other instances about a presence diff (best effort, like any publish)."""
        self._broker().publish(channel, encode_relay(RelayMessage(
            self.instance_id, Kind.PRESENCE, joins=tuple(joins), leaves=tuple(leaves))))

    def relay_remove(self, path: str, code: int, reason: str) -> None:
        """Ask the other instances to close ``path``'s clients and drop it."""
        self._broker().publish(self.channel(path), encode_relay(
            RelayMessage(self.instance_id, Kind.REMOVE, code=code, reason=reason)))

    def relay_disconnect(self, user: str | int, code: int, reason: str) -> bool:
        """Ask every other instance to close ``user``'s connections; ``False`` if the broker
        refused the message."""
        return self._broker().publish(self.control_channel, encode_relay(RelayMessage(
            self.instance_id, Kind.DISCONNECT, code=code, reason=reason, user=user)))

    # -- in -------------------------------------------------------------------------------------

    def on_relay(self, channel: str, payload: bytes) -> None:
        """A payload another instance (or this one) published on ``channel``."""
        try:
            numbered = split_history(payload)
            if numbered is not None:
                offset, epoch, payload = numbered
                if self._delivered(channel, offset, epoch):
                    return  # this instance's own broadcast, served from the script's reply
            message = decode_relay(payload)
        except (ValueError, msgspec.DecodeError, msgspec.ValidationError):
            logger.warning("ignored an undecodable broker message channel=%s", channel)
            return
        if numbered is None and message.origin == self.instance_id:
            return  # delivered locally when it was published
        if channel == self.control_channel:
            if message.kind is Kind.DISCONNECT and message.user is not None:
                self._on_disconnect(message.user, message.code, message.reason)
            return
        path = self.path_of(channel)
        namespace = self._registry.get(path)
        if namespace is None:
            self._counts.unhosted()
            return
        if message.kind is Kind.FRAME:
            if message.sent_at and message.origin != self.instance_id:
                metrics = self._metrics()
                if metrics is not None:
                    metrics.pubsub_lag_seconds.observe(max(0.0, time.time() - message.sent_at))
            if numbered is None:
                namespace.deliver(message.frame, message.exclude)
                return
            frame = numbered_frame(message.frame, offset)
            if namespace.feed is not None:
                namespace.feed.heard(offset, epoch, frame, message.exclude)
            else:  # numbered by an instance whose pattern keeps history, this one does not
                namespace.deliver(frame, message.exclude)
        elif message.kind is Kind.REMOVE:
            self._on_remove(path, message.code, message.reason)
        elif message.kind is Kind.PRESENCE:
            tracker = self._tracker()
            if tracker is not None:
                tracker.heard(channel, message.joins, message.leaves)

    def _delivered(self, channel: str, offset: int, epoch: str) -> bool:
        """Whether the numbered frame ``offset`` reached this instance's clients of
        ``channel`` already: checked before the relay message is decoded."""
        namespace = self._registry.get(self.path_of(channel))
        feed = namespace.feed if namespace is not None else None
        return feed is not None and feed.delivered(offset, epoch)

    def on_restored(self, channels: Iterable[str]) -> None:
        """The broker came back: clients may have missed messages while it was away.
        History namespaces read what they missed; the others tell their clients to
        ``resync``; the tracker rewrites this instance's presence."""
        reason = ResyncReason.BROKER_LOST
        frame = resync_frame(reason)
        for channel in channels:
            namespace = self._registry.get(self.path_of(channel))
            if namespace is None:
                continue
            if namespace.feed is not None:
                namespace.feed.restored()
            else:
                namespace.deliver(frame)
                self._counts.resync(reason)
        tracker = self._tracker()
        if tracker is not None:
            tracker.restored()


class Numbering:
    """A numbered broadcast of this instance on its way: what serving its frame here needs
    once the broker's reply gives its position (``landed`` is the reply's done-callback)."""

    __slots__ = ("_broadcasts", "path", "head", "excluded", "started", "serve")

    def __init__(self, broadcasts: Broadcasts, path: str, head: bytes, excluded: tuple[str, ...],
                 started: float, serve: bool):
        self._broadcasts = broadcasts
        self.path = path
        self.head = head
        self.excluded = excluded
        self.started = started
        #: Whether this instance's clients are served from the reply (not when keyed).
        self.serve = serve

    def landed(self, numbered: asyncio.Future[Position]) -> None:
        """The broker answered: serve the frame here, or (it failed, counted and logged by
        the broker) retrieve the error, which an awaiter of the handle gets too."""
        if numbered.cancelled() or numbered.exception() is not None:
            return  # cancelled: an awaiter gave up; the echo over the link serves it here
        self._broadcasts.serve_numbered(self, numbered.result())


def numbered_frame(head: bytes, offset: int) -> bytes:
    """The WebSocket frame of a numbered broadcast: its head (the encoded frame without its
    closing brace) with its offset, the same bytes the history script keeps."""
    return ws_text_frame(b'%s,"offset":%d}' % (head, offset))


def unrelayed(path: str) -> BrokerUnavailable:
    """What ``strict=True`` raises when the broker refused the frame at once."""
    return BrokerUnavailable(f"broadcast to {path} reached this instance only: no broker")


def client_ids(exclude: Exclude) -> tuple[str, ...]:
    """The client ids a broadcast skips, however the app named them."""
    if exclude is None:
        return ()
    if isinstance(exclude, str) or not isinstance(exclude, Iterable):
        exclude = (exclude,)
    return tuple(c if isinstance(c, str) else c.id for c in exclude)
