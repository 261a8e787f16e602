"""The hub: which namespaces this instance hosts and who is in them.

It knows nothing of Sanic (the extension is the adapter): it gets or creates namespaces
through the ``Registry``, admits clients to them and lets them leave, and closes them.
Broadcasts and what the broker brings back are ``broadcasts.py``'s (the hub hands its
``Publisher`` calls there); every instance-wide counter is ``InstanceStats``'s, which
the hub reads for ``stats()``. Its seams: ``join`` (a client enters a namespace) and
``leave`` (it left); what the broker asks of hosting (remove a namespace, disconnect a
user) comes back through ``broadcasts.py`` to ``_removed_elsewhere`` and ``_close_user``.

A pattern with history gives each of its namespaces a ``Feed`` (frames in offset order,
gaps filled from history, returning clients caught up); a pattern with presence puts its
namespaces in the instance's ``Tracker``. Both read their state from the broker once,
when the namespace is created, before its first client is admitted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from .admission import Refusal
from .broadcasts import Broadcasts
from .broker import Broker, create_broker
from .client import Client
from .config import Settings
from .counters import Counters
from .deflate import FrameDeflater
from .errors import BrokerUnavailable, CloseCode, ConfigError, OverCapacity
from .expiry import ExpirySweep, expires_in
from .feed import Feed
from .history import History
from .history_cache import RecentHistory
from .idempotency import RequestKeys
from .instance_stats import InstanceStats
from .keepalive import HeartbeatSweep
from .limits import ConnectionCaps
from .metrics import Metrics, Snapshot
from .namespace import Namespace
from .occupancy import Occupancy
from .pattern import AnyCallable, call
from .protocol import Limits, Welcome, encode, ws_text_frame
from .recovery import Position
from .registry import Registry
from .tracker import Tracker

#: ``read_history`` after this offset returns the position alone (no stream gets there).
_TOP = 2**62

if TYPE_CHECKING:
    from .broadcast_handle import Broadcast
    from .interfaces import Exclude
    from .pattern import Pattern

logger = logging.getLogger("sanic_wsns")


class Hub:
    """Routing and delivery for one instance (the ``Publisher`` that namespaces and
    patterns broadcast through)."""

    def __init__(self, settings: Settings, broker: Broker | None = None,
                 patterns: list[Pattern] | None = None):
        """Everything from ``settings`` (final: the app's config merged in), in this one
        step; ``start`` brings only what the running server has (the broker's connection,
        Sanic's ping interval, the metrics of this process)."""
        self.settings = settings
        #: A broker the app built (``WsNamespaces(app, broker=RedisBroker(...))``); else
        #: ``start`` builds one from ``settings.broker``.
        self._given_broker = broker
        self.instance_id = secrets.token_hex(6)
        #: Seconds between keepalive pings, announced in ``welcome`` (0: none); from ``start``.
        self.heartbeat_interval = 0.0
        self.registry: Registry[Namespace] = Registry(
            max_namespaces=settings.max_namespaces,
            linger=settings.unsubscribe_linger,
            subscribe=lambda channel: self.broker.subscribe(channel),
            unsubscribe=lambda channel: self.broker.unsubscribe(channel),
        )
        self.connections = ConnectionCaps(settings.max_connections, settings.max_connections_per_identity)
        #: With ``WSNS_COMPRESSION``: the one compressor of frames for clients that agreed
        #: on permessage-deflate (every namespace of this instance shares it).
        self.deflater = _deflater(settings)
        #: Every instance-wide counter (the feeds count their resyncs there too).
        self.counts = InstanceStats()
        self._all_left: asyncio.Event | None = None  # set while closing every client
        #: Path → connections claimed for it whose join has not ended yet.
        self._arriving: dict[str, int] = {}
        #: Drops and vacancy checks under way (``_spawn``).
        self._tasks: set[asyncio.Task[None]] = set()
        self._client_ids = itertools.count(1)
        #: Closes connections whose identity expired (4001), one timer for them all.
        self.expiries = ExpirySweep()
        #: Writes every SSE stream's ``: ping`` comment, one timer for them all.
        self.heartbeats = HeartbeatSweep()
        self._broker: Broker | None = None
        self._tracker: Tracker | None = None
        self._occupancy: Occupancy | None = None
        #: The extension's declared patterns (the same list): whose hooks a path has.
        self.patterns: list[Pattern] = [] if patterns is None else patterns
        self._requests: RequestKeys | None = None
        #: While the server runs with ``metrics_url`` on (``start``): latencies go there.
        self.metrics: Metrics | None = None
        #: Broadcasts out, relays in (broadcasts.py).
        self.broadcasts = Broadcasts(self.instance_id, settings, self.registry, self.counts,
                                     lambda: self.broker, lambda: self.metrics, lambda: self._tracker,
                                     self._removed_elsewhere, self._close_user, self._spawn)
        #: History reads, shared by the returning clients of a namespace (history_cache.py).
        self.recent_history = RecentHistory(lambda channel, after, history:
                                            self.broker.read_history(channel, after, history))

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            raise ConfigError("the broker starts with the server (before_server_start)")
        return self._broker

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, heartbeat_interval: float = 0.0, metrics: Metrics | None = None) -> None:
        """Connect the broker and start serving: pings every ``heartbeat_interval`` seconds
        are announced in each welcome (Sanic's setting), latencies go to ``metrics``."""
        settings = self.settings
        self.heartbeat_interval = heartbeat_interval
        self.metrics = metrics
        broker = self._given_broker or create_broker(settings.broker, sharded=settings.redis_sharded)
        broker.register(self.broadcasts.on_relay, self.broadcasts.on_restored)
        self._broker = broker
        self._tracker = Tracker(self._broker, self.broadcasts.announce, ttl=settings.presence_ttl,
                                state_limit=settings.presence_state_limit)
        self._requests = RequestKeys(self._broker, settings.idempotency_window, self.channel)
        self._occupancy = Occupancy(self._broker.occupancy, settings.channel_prefix, self.instance_id,
                                    self._occupancy_changed, ttl=settings.presence_ttl,
                                    keep=settings.last_seen_ttl)
        await self._broker.connect()
        await self._broker.subscribe(self.broadcasts.control_channel)
        self._occupancy.start()

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            raise ConfigError("presence starts with the server (before_server_start)")
        return self._tracker

    @property
    def occupancy(self) -> Occupancy:
        if self._occupancy is None:
            raise ConfigError("occupancy starts with the server (before_server_start)")
        return self._occupancy

    @property
    def requests(self) -> RequestKeys:
        if self._requests is None:
            raise ConfigError("request keys start with the server (before_server_start)")
        return self._requests

    async def close_clients(self, code: int, reason: str, timeout: float) -> None:
        """Close every client, and wait at most ``timeout`` seconds for them to leave.

        The close frame is queued at once behind whatever each client still has to read
        (``Client.abort``): a polite close waits for the send buffer to drain first, so a
        client that stopped reading would hold the server for ever and never get the code.
        """
        clients = self.clients()
        if not clients:
            return
        self._all_left = asyncio.Event()
        for client in clients:
            client.abort(code, reason)
        try:
            await asyncio.wait_for(self._all_left.wait(), timeout)
        except TimeoutError:
            logger.warning("%d clients had not left %.1fs after the close", self.connections.total, timeout)
        finally:
            self._all_left = None

    async def stop(self) -> None:
        self.expiries.stop()
        self.heartbeats.stop()
        if self._occupancy is not None:  # its last vacancies' hooks are waited for below
            await self._occupancy.close()
        if self._tasks:  # drops under way: their on_empty hooks run before the broker goes
            await asyncio.wait(set(self._tasks), timeout=self.settings.shutdown_timeout)
        if self._tracker is not None:
            await self._tracker.close()  # whoever is still here leaves everyone's presence now
        await self.registry.close()
        if self._broker is not None:
            await self._broker.disconnect()
        self.metrics = None

    def clients(self) -> list[Client]:
        return [client for ns in self.registry for client in ns.clients.values()]

    # -- admission and hosting ----------------------------------------------------------------

    def refuse(self, refusal: Refusal) -> None:
        """Count one refused connection under its name (and its close code, for metrics)."""
        self.counts.refuse(refusal.name, refusal.code)

    def claim(self, identity: Any, path: str) -> Refusal | None:
        """Count a connection that passed admission against the caps, or say why not.
        The handshake is done by now: checking and counting in one step (no await between)
        keeps concurrent upgrades from overshooting a cap. ``leave`` gives the slot back,
        or ``abandon`` if the connection ends before its ``join`` did.

        From here until its ``join`` ends the connection is *arriving* at ``path``: the
        namespace there is not dropped under it (its last client leaving meanwhile keeps
        it for the newcomer instead of racing its re-creation)."""
        try:
            if self.connections.acquire(identity):
                self._arriving[path] = self._arriving.get(path, 0) + 1
                return None
            refusal = Refusal(CloseCode.TRY_AGAIN_LATER, "too many connections")
        except TypeError:
            logger.error("max_connections_per_identity needs a hashable identity, the authorize "
                         "hook returned %s: return Identity(value=<user id>, public=...)",
                         type(identity).__name__)
            refusal = Refusal(CloseCode.INTERNAL_ERROR, "internal error")
        self.refuse(refusal)
        return refusal

    def abandon(self, path: str, identity: Any, client: Client | None) -> None:
        """A connection ended between ``claim`` and the end of its ``join``: refused for
        capacity, failed, or cancelled by Sanic because its TCP connection dropped. Give
        its slot back, undo what of the join was done (``client``, once it exists), and
        drop the namespace if this connection was all that kept it.

        Nothing here awaits: it runs in a task that may have been cancelled (the drop
        runs in a task of its own)."""
        self._arrived(path)
        if client is not None:
            self._withdraw(client.namespace, client)
        self._release(identity)
        self._spawn(self._vacate(path), f"wsns-vacate {path}")

    def _arrived(self, path: str) -> None:
        left = self._arriving.pop(path) - 1
        if left:
            self._arriving[path] = left

    def _release(self, identity: Any) -> None:
        self.connections.release(identity)
        if self._all_left is not None and self.connections.total == 0:
            self._all_left.set()

    async def _vacate(self, path: str) -> None:
        """Drop ``path``'s namespace (once a creation in flight ends) if it is vacant."""
        ns = await self.registry.settle(path)
        if ns is not None:
            dropping = self._drop_if_vacant(ns)
            if dropping is not None:
                await dropping

    def next_client_id(self) -> str:
        self.counts.accept()
        return f"{self.instance_id}-{next(self._client_ids):x}"

    def channel(self, path: str) -> str:
        return self.broadcasts.channel(path)

    def path_of(self, channel: str) -> str:
        return self.broadcasts.path_of(channel)

    async def host(self, pattern: Pattern, path: str, params: dict[str, Any]) -> Namespace | None:
        """Get or create the namespace for ``path``; ``None`` when over capacity."""
        namespace = self.registry.get(path)
        if namespace is None:
            try:
                namespace = await self.registry.get_or_create(
                    path, self.channel(path), lambda: self._build(pattern, path, params))
            except OverCapacity:
                self.refuse(Refusal(CloseCode.TRY_AGAIN_LATER, "too many namespaces on this instance"))
                logger.warning("namespace refused, instance at capacity path=%s", path)
                return None
            logger.debug("namespace hosted path=%s", path)
        if namespace.ready is not None and not namespace.ready.done():
            await asyncio.shield(namespace.ready)  # its state is still being read
        return namespace

    def _build(self, pattern: Pattern, path: str, params: dict[str, Any]) -> Namespace:
        """A new namespace (its channel is subscribed); history and presence start here,
        and read their state from the broker before the first client is admitted."""
        namespace = Namespace(self, pattern, path, params, self.deflater)
        if pattern.history is None and not pattern.tracks_presence:
            return namespace
        if pattern.history is not None:
            history = pattern.history
            channel = self.channel(path)

            async def read(after: int) -> tuple[Position, list[tuple[int, bytes]]]:
                return await self.recent_history.read(channel, after, history)

            namespace.feed = Feed(read, namespace.deliver, path, self.counts)
        if pattern.tracks_presence:
            namespace.tracked = self.tracker.open(self.channel(path), namespace.deliver)
        namespace.ready = asyncio.get_running_loop().create_task(self._prepare(namespace),
                                                                  name=f"wsns-prepare {path}")
        return namespace

    async def _prepare(self, ns: Namespace) -> None:
        if ns.feed is not None:
            assert ns.pattern.history is not None
            try:
                position = await self.position(ns.pattern.history, ns.path)
            except Exception as exc:
                # The first frame heard will carry the epoch: clients that came back resync.
                logger.warning("history position unreadable path=%s: %s", ns.path, exc)
                position = Position(0, "")
            ns.feed.start(position)
        if ns.tracked is not None:
            await self.tracker.load(ns.tracked)

    async def join(self, ns: Namespace, client: Client, since: int | None = None,
                   epoch: str | None = None) -> None:
        """Admit ``client`` to ``ns``: welcome first, in the same step, so no broadcast can
        precede the welcome. In a history namespace a client that came back with ``since``
        and ``epoch`` gets the frames it missed after its welcome (or a ``resync``)."""
        if ns.feed is None:
            client.write(self._welcome(ns, client))
            ns.clients[client.id] = client
        else:
            plan = await ns.feed.admit(
                client, since, epoch,
                lambda position, recovered: self._welcome(ns, client, position, recovered),
                lambda: ns.clients.__setitem__(client.id, client))
            if plan is not None:
                client.recovered = plan.recovered
                self.counts.recovery("recovered" if plan.recovered else "resync")
        if ns.tracked is not None:
            self.tracker.join(ns.tracked, client, client.public)
        self.occupancy.join(self.channel(ns.path), client.id, client.user)
        self.expiries.watch(client, client.expires_at)
        self._arrived(ns.path)
        if self.registry.get(ns.path) is not ns:
            # Removed while this client was on its way in (its missed frames were being
            # read): the removal closed the clients it knew, and nothing reaches this one.
            client.abort(*(ns.removed or (CloseCode.SERVICE_RESTART, "namespace closed")))

    def _welcome(self, ns: Namespace, client: Client, position: Position | None = None,
                 recovered: bool | None = None) -> bytes:
        s = self.settings
        welcome = Welcome(
            client_id=client.id, path=ns.path, params=ns.params, public=client.public,
            limits=Limits(s.max_frame_size, s.rate_limit, s.rate_burst),
            heartbeat_interval=self.heartbeat_interval,
        )
        if position is not None:
            welcome.position = position
        if recovered is not None:
            welcome.recovered = recovered
        if client.expires_at is not None:
            welcome.expires_in = expires_in(client.expires_at)
        return ws_text_frame(encode("welcome", welcome))

    async def leave(self, ns: Namespace, client: Client) -> None:
        """A joined client's connection ended: forget it, tell the app, drop the namespace
        if nobody is left in it nor on the way in."""
        self._withdraw(ns, client)
        self._release(client.user)
        try:
            for hook in ns.pattern.disconnect_hooks:
                try:
                    await call(hook, ns, client)
                except Exception:
                    logger.exception("on_disconnect failed path=%s client=%s", ns.path, client.id)
        finally:  # also when the connection's task is cancelled in a hook (its TCP dropped)
            dropping = self._drop_if_vacant(ns)
        if dropping is not None:
            await asyncio.shield(dropping)

    def _withdraw(self, ns: Namespace, client: Client) -> None:
        """Take ``client`` out of ``ns``, whatever part of its join was done."""
        ns.clients.pop(client.id, None)
        self.expiries.forget(client)
        if ns.feed is not None:
            ns.feed.forget(client.id)
        if ns.tracked is not None:
            self.tracker.leave(ns.tracked, client.id)
        if self._occupancy is not None:
            self._occupancy.leave(self.channel(ns.path), client.id)

    def _drop_if_vacant(self, ns: Namespace) -> asyncio.Task[None] | None:
        if (ns.empty and ns.pattern.drop_when_empty and not self._arriving.get(ns.path)
                and self.registry.get(ns.path) is ns):
            return self._drop(ns)
        return None

    def _drop(self, ns: Namespace) -> asyncio.Task[None]:
        """Stop hosting ``ns`` now: it leaves the registry and the tracker in this step
        (a connect that comes next creates a new namespace, whose presence read waits for
        this one's last writes). The rest (its feed's gap read stopped, its clients'
        leaves written, ``on_empty``) runs in the task returned, which the caller's
        cancellation (a connection reset) cannot cut short."""
        self.registry.drop(ns.path, self.channel(ns.path))
        self.counts.retire(ns.pattern.pattern, ns.counters)
        written = self.tracker.drop(ns.tracked) if ns.tracked is not None else None
        return self._spawn(self._dropped(ns, written), f"wsns-drop {ns.path}")

    async def _dropped(self, ns: Namespace, written: asyncio.Task[None] | None) -> None:
        if ns.feed is not None:
            await ns.feed.close()
        if written is not None:
            await asyncio.wait({written})  # the last leaves are written first
        logger.debug("namespace dropped path=%s", ns.path)
        for hook in ns.pattern.empty_hooks:
            try:
                await call(hook, ns)
            except Exception:
                logger.exception("on_empty failed path=%s", ns.path)

    def _occupancy_changed(self, channel: str, occupied: bool) -> None:
        """The namespace on ``channel`` became occupied (its first client anywhere) or vacant
        (its last one everywhere), and this instance was the one told: run its pattern's
        hooks here, in a task the hub waits for at ``stop``."""
        path = channel[len(self.settings.channel_prefix):]
        for pattern in self.patterns:
            params = pattern.template.match(path)
            if params is not None:
                hooks = pattern.occupied_hooks if occupied else pattern.vacated_hooks
                if hooks:
                    self._spawn(_run_hooks(hooks, path, params), f"wsns-occupancy-hooks {path}")
                return

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``work`` in a task the hub keeps (and waits for at ``stop``)."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- delivery (broadcasts.py) --------------------------------------------------------------

    def broadcast(self, history: History | None, path: str, type: str, data: Any = None,
                  exclude: Exclude = None, *, strict: bool = False,
                  confirm: bool = False, key: str | None = None) -> Broadcast:
        """Send ``{type, data}`` to every client of ``path`` (canonical) on every instance
        (see ``Namespace.broadcast`` for ``strict``, ``confirm``, ``key`` and history)."""
        return self.broadcasts.broadcast(history, path, type, data, exclude, strict=strict,
                                         confirm=confirm, key=key)

    def publish(self, path: str, type: str, data: Any = None, exclude: Exclude = None,
                strict: bool = False) -> None:
        """Encode once, write to local clients, relay the same bytes (``Broadcasts.publish``)."""
        self.broadcasts.publish(path, type, data, exclude, strict)

    async def position(self, history: History, path: str) -> Position:
        """The last position of ``path``'s stream, from the broker (read it before a
        snapshot: a client that connects with it gets every later frame)."""
        return (await self.broker.read_history(self.channel(path), _TOP, history))[0]

    async def presence(self, path: str) -> dict[str, Any]:
        entries = await self.tracker.state(self.channel(path))
        return {client_id: msgspec.json.decode(public) for client_id, public in entries.items()}

    def update_presence(self, client: Client, public: Any) -> None:
        namespace = client.namespace
        pattern = namespace.pattern
        if not pattern.tracks_presence:
            raise ConfigError(f"{pattern.pattern} tracks no presence: declare it with presence=True")
        encoded = msgspec.json.encode(public)  # a TypeError here leaves the client as it was
        client.public = public
        if namespace.tracked is not None:
            self.tracker.update(namespace.tracked, client.id, encoded)

    async def remove_namespace(self, path: str, code: int = CloseCode.REMOVED,
                               reason: str = "namespace removed", *, everywhere: bool = True) -> None:
        """Close the clients of ``path`` (canonical) with ``code`` and drop it, on every
        instance unless ``everywhere=False``."""
        if everywhere:
            self.broadcasts.relay_remove(path, code, reason)
        await self._close_local(path, code, reason)

    async def _close_local(self, path: str, code: int, reason: str) -> None:
        namespace = self.registry.get(path)
        if namespace is None:
            return
        namespace.removed = (code, reason)
        await asyncio.shield(self._drop(namespace))
        clients = list(namespace.clients.values())
        await asyncio.gather(*(c.close(code, reason) for c in clients), return_exceptions=True)

    def disconnect(self, user: str | int, code: int, reason: str) -> None:
        """Close every connection of ``user`` (``Identity.user``) on every instance: here
        at once, elsewhere through one message on the control channel.
        ``BrokerUnavailable`` (after the local closes) when the broker refused it."""
        if isinstance(user, bool) or not isinstance(user, (str, int)):
            raise TypeError(f"disconnect(user=...) takes an Identity.user (str or int), not "
                            f"{type(user).__name__}")
        self._close_user(user, code, reason)
        if not self.broadcasts.relay_disconnect(user, code, reason):
            raise BrokerUnavailable("disconnect reached this instance only: no broker")

    def _close_user(self, user: str | int, code: int, reason: str) -> None:
        """Close this instance's connections of ``user`` (a scan: disconnects are rare,
        and an index by user would cost every connection a slot)."""
        closed = 0
        for client in self.clients():
            if client.user == user and client.open:
                client.abort(code, reason)
                closed += 1
        if closed:
            self.expiries.count("user", closed)
            logger.info("disconnected %d connection(s) of a user code=%d reason=%s", closed, code, reason)

    # -- what the broker brings -----------------------------------------------------------------

    def _removed_elsewhere(self, path: str, code: int, reason: str) -> None:
        """Another instance removed ``path``: close its clients here too."""
        asyncio.get_running_loop().create_task(self._close_local(path, code, reason))

    # -- counters -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Instance id, broker health, totals and per-namespace counters."""
        namespaces = {ns.path: ns.stats() for ns in self.registry}
        counted = Counters()
        for by_pattern in self._counters_by_pattern().values():
            counted.merge(by_pattern)
        broker = self._broker.stats() if self._broker else {"connected": False}
        return {
            "instance": self.instance_id,
            "broker": broker,
            "totals": {
                "namespaces": len(self.registry),
                "clients": sum(s["clients"] for s in namespaces.values()),
                "connections": self.connections.total,
                "subscriptions": len(self.registry.channels),
                "namespaces_created": self.registry.created,
                "namespaces_dropped": self.registry.dropped,
                "connections_accepted": self.counts.accepted,
                "connections_refused": dict(self.counts.refused),
                "messages_in": counted.messages_in,
                "messages_out": counted.messages_out,
                "dropped": counted.dropped,
                "broker_payloads_unhosted": self.counts.unhosted_payloads,
                "resyncs": dict(self.counts.resyncs),
                "recoveries": dict(self.counts.recoveries),
                "keyed_requests_in_flight": self._requests.in_flight if self._requests else 0,
                "idempotent_repeats": self._requests.repeats if self._requests else 0,
                "disconnects": dict(self.expiries.closes),
            },
            "namespaces": namespaces,
        }


    def _counters_by_pattern(self) -> dict[str, Counters]:
        """Message counts since start, live and dropped namespaces together, by pattern."""
        return self.counts.by_pattern((ns.pattern.pattern, ns.counters) for ns in self.registry)

    def snapshot(self) -> Snapshot:
        """What the metrics export (``metrics.py``): bounded labels, never a resource id."""
        connections: dict[str, int] = {}
        namespaces: dict[str, int] = {}
        for ns in self.registry:
            pattern = ns.pattern.pattern
            namespaces[pattern] = namespaces.get(pattern, 0) + 1
            connections[pattern] = connections.get(pattern, 0) + len(ns.clients)
        counted = self._counters_by_pattern()
        return Snapshot(
            connections=connections, namespaces=namespaces,
            received={p: c.messages_in for p, c in counted.items()},
            sent={p: c.messages_out for p, c in counted.items()},
            refusals={str(code): n for code, n in self.counts.refused_codes.items()},
            resyncs=dict(self.counts.resyncs), recoveries=dict(self.counts.recoveries),
            disconnects=dict(self.expiries.closes),
            idempotent_repeats=self._requests.repeats if self._requests else 0,
            slow_consumer_closes=sum(c.dropped.get("slow_consumer", 0) for c in counted.values()),
            presence_members=self._tracker.members_by(self._pattern_of_channel) if self._tracker else {},
            broker_up=bool(self._broker and self._broker.connected),
            transports=_by_transport(self.clients()),
        )

    def _pattern_of_channel(self, channel: str) -> str | None:
        namespace = self.registry.get(self.path_of(channel))
        return None if namespace is None else namespace.pattern.pattern


async def _run_hooks(hooks: list[AnyCallable], path: str, params: dict[str, Any]) -> None:
    for hook in hooks:
        try:
            await call(hook, path, params)
        except Exception:
            logger.exception("%s failed path=%s", getattr(hook, "__name__", "hook"), path)

def _deflater(settings: Settings) -> FrameDeflater | None:
    return FrameDeflater(settings.compression_threshold) if settings.compression else None


def _by_transport(clients: Iterable[Client]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for client in clients:
        counts[client.transport] = counts.get(client.transport, 0) + 1
    return counts
