"""Prometheus metrics of a deployment, served at ``metrics_url`` (off by default).

Counting costs nothing per delivery: the core already counts messages per namespace, and
``Metrics.sync`` (once a second) turns the growth of those counts into Prometheus
counters. Only the two latency histograms are observed as events happen, once per
broadcast, never once per client.

Under several Sanic workers every worker is a process with its own counts:
prometheus_client's multiprocess mode sums them. It needs ``PROMETHEUS_MULTIPROC_DIR``
in the environment before any worker imports prometheus_client, and the folder wiped at
start, which ``prepare_multiprocess`` does in Sanic's main process; a worker that stops
marks its gauges dead, and one that starts clears the files of workers that died.
Labels are bounded: a pattern, a close code, a reason, a result; never a resource id.
The gauges by pattern show every declared pattern, at 0 when it has no namespace: a
pattern the core stops reporting would otherwise keep its last value (summed over workers,
clients long gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds between a worker's syncs of its counts into the shared files.
SYNC_INTERVAL = 1.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: How prometheus_client combines the workers' values of a gauge (the modes used here).
GaugeMode = Literal["livesum", "livemax", "livemin"]

#: Seconds: from a broadcast call to its frame in local sockets, and from a publish on one
#: instance to delivery on another (pub/sub lag). Sub-millisecond to a few seconds.
#: The transports ``wsns_transport_connections`` always shows (0 when none is open).
TRANSPORTS = ("websocket", "sse")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class Snapshot:
    """What one instance counts, as the core keeps it; counters are totals since start."""

    connections: Mapping[str, int] = field(default_factory=dict)  # pattern → open now
    namespaces: Mapping[str, int] = field(default_factory=dict)  # pattern → hosted now
    received: Mapping[str, int] = field(default_factory=dict)  # pattern → messages in
    sent: Mapping[str, int] = field(default_factory=dict)  # pattern → frames written
    refusals: Mapping[str, int] = field(default_factory=dict)  # close code → upgrades refused
    resyncs: Mapping[str, int] = field(default_factory=dict)  # reason → resync frames sent
    recoveries: Mapping[str, int] = field(default_factory=dict)  # result → returning clients
    slow_consumer_closes: int = 0
    #: reason (``expired``, ``refresh_refused``, ``user``) → connections whose grant ended
    disconnects: Mapping[str, int] = field(default_factory=dict)
    #: Keyed requests answered again without running their handler (``idempotency.py``)
    idempotent_repeats: int = 0
    presence_members: Mapping[str, int] = field(default_factory=dict)  # pattern → entries seen
    broker_up: bool = False
    transports: Mapping[str, int] = field(default_factory=dict)  # websocket/sse → open now
    #: The outbox relays' ``stats()`` (``OutboxStats``), summed; ``pending`` the largest view
    outbox: Mapping[str, int] = field(default_factory=dict)


class OutboxStats(Protocol):
    """What the metrics read of an outbox relay (``sanic_wsns.outbox.Relay``)."""

    def stats(self) -> Mapping[str, int]: ...


def outbox_totals(relays: Iterable[OutboxStats]) -> dict[str, int]:
    """The relays' counts summed; ``pending`` counts the rows of a whole table, which every
    relay on it sees: the largest view, not the sum."""
    totals: dict[str, int] = {}
    for relay in relays:
        for name, count in relay.stats().items():
            before = totals.get(name, 0)
            totals[name] = max(before, count) if name == "pending" else before + count
    return totals


def prepare_multiprocess() -> str:
    """Main process, before the workers start: a wiped folder for the workers' counts."""
    path = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="wsns-metrics-")
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    os.environ[MULTIPROC_ENV] = path
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Metrics:
    """The ``wsns_*`` metrics of this process, fed from ``snapshot()``."""

    def __init__(self, snapshot: Callable[[], Snapshot], patterns: Iterable[str] = ()):
        # Imported here, not at module level: prometheus_client picks its storage (per
        # process, or shared files) when first imported, so the environment must be set.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._snapshot = snapshot
        self.multiprocess = MULTIPROC_ENV in os.environ
        # Own registry: two apps in one process (tests) must not collide in the global one.
        self._registry = None if self.multiprocess else CollectorRegistry()
        reg: dict[str, Any] = {"registry": self._registry}

        def gauge(name: str, doc: str, labels: tuple[str, ...], mode: GaugeMode) -> Any:
            return Gauge(name, doc, labels, multiprocess_mode=mode, **reg)

        self.connections = gauge("wsns_connections", "Open WebSocket connections.", ("pattern",), "livesum")
        self.namespaces = gauge("wsns_namespaces", "Namespaces hosted.", ("pattern",), "livesum")
        self.presence_members = gauge("wsns_presence_members", "Clients in presence, as seen by "
                                      "an instance (the largest view).", ("pattern",), "livemax")
        self.broker_up = gauge("wsns_broker_up", "1 when every worker reaches the broker.", (), "livemin")
        self.transports = gauge("wsns_transport_connections", "Open connections, by transport "
                                "(websocket, sse).", ("transport",), "livesum")
        self.received = Counter("wsns_messages_received", "Client messages received.", ("pattern",), **reg)
        self.sent = Counter("wsns_messages_sent", "Frames written to clients.", ("pattern",), **reg)
        self.refusals = Counter("wsns_refusals", "Upgrades refused, by close code.", ("code",), **reg)
        self.resyncs = Counter("wsns_resyncs", "resync frames sent, by reason.", ("reason",), **reg)
        self.recoveries = Counter("wsns_recoveries", "Returning clients, by result.", ("result",), **reg)
        self.disconnects = Counter("wsns_disconnects", "Connections closed because their grant "
                                   "ended: expired, refresh_refused, user (disconnect).", ("reason",),
                                   **reg)
        self.idempotent_repeats = Counter("wsns_idempotent_repeats", "Repeats of a keyed request "
                                          "answered without running its handler again.", (), **reg)
        self.slow_closes = Counter("wsns_slow_consumer_closes", "Clients closed for not reading (1013).",
                                   (), **reg)
        self.broadcast_seconds = Histogram("wsns_broadcast_seconds", "From a broadcast call to its "
                                           "frame in local sockets.", buckets=LATENCY_BUCKETS, **reg)
        self.pubsub_lag_seconds = Histogram("wsns_pubsub_lag_seconds", "From a publish on one instance "
                                            "to its delivery on another.", buckets=LATENCY_BUCKETS, **reg)
        self.outbox_pending = gauge("wsns_outbox_pending", "Outbox rows not yet published (all "
                                    "instances', at the relay's last pass; the largest view).", (), "livemax")
        self.outbox_published = Counter("wsns_outbox_published", "Outbox rows this instance's relay "
                                        "published and marked.", (), **reg)
        self.outbox_swept = Counter("wsns_outbox_swept", "Of those, rows published late by a sweep "
                                    "(their instance died or the broker stalled).", (), **reg)
        self.outbox_takeovers = Counter("wsns_outbox_takeovers", "Claims taken over from a relay "
                                        "whose lease lapsed.", (), **reg)
        self.outbox_errors = Counter("wsns_outbox_errors", "Relay failures: database (a sweep the "
                                     "database refused), publish (not written by the broker in time).",
                                     ("stage",), **reg)
        self._last: dict[tuple[str, str], int] = {}
        #: Every pattern a gauge must show: the declared ones, and any seen since. The core
        #: only reports patterns with a live namespace; a pattern left out would keep its
        #: last value for ever (and, summed over workers, add up to clients long gone).
        self._patterns: set[str] = set(patterns)
        self._syncing: asyncio.Task[None] | None = None
        if self.multiprocess:
            self._clear_dead_workers()

    def start(self) -> None:
        """Under several workers a scrape reaches one of them and reads every worker's
        files: each worker writes its counts there once a second. One process needs no
        task: a scrape syncs it first."""
        if self.multiprocess:
            self._syncing = asyncio.get_running_loop().create_task(self._sync_forever(),
                                                                   name="wsns-metrics")

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            self.sync()

    async def stop(self) -> None:
        if self._syncing is not None:
            self._syncing.cancel()
            await asyncio.gather(self._syncing, return_exceptions=True)
            self._syncing = None
        self.close()

    def sync(self) -> None:
        """Bring the metrics up to the core's counts (called about once a second)."""
        snap = self._snapshot()
        by_pattern = ((self.connections, snap.connections), (self.namespaces, snap.namespaces),
                      (self.presence_members, snap.presence_members))
        for _, values in by_pattern:
            self._patterns.update(values)
        for metric, values in by_pattern:
            for label in self._patterns:
                metric.labels(label).set(values.get(label, 0))
        self.broker_up.set(1 if snap.broker_up else 0)
        for transport in {*TRANSPORTS, *snap.transports}:
            self.transports.labels(transport).set(snap.transports.get(transport, 0))
        for name, metric, values in (("received", self.received, snap.received),
                                     ("sent", self.sent, snap.sent),
                                     ("refusals", self.refusals, snap.refusals),
                                     ("resyncs", self.resyncs, snap.resyncs),
                                     ("recoveries", self.recoveries, snap.recoveries),
                                     ("disconnects", self.disconnects, snap.disconnects)):
            for label, total in values.items():
                self._grow(name, label, metric.labels(label), total)
        self._grow("slow", "", self.slow_closes, snap.slow_consumer_closes)
        self._grow("repeats", "", self.idempotent_repeats, snap.idempotent_repeats)
        self._sync_outbox(snap.outbox)

    def _sync_outbox(self, counts: Mapping[str, int]) -> None:
        self.outbox_pending.set(counts.get("pending", 0))
        for name, counter in (("published", self.outbox_published), ("swept", self.outbox_swept),
                              ("taken_over", self.outbox_takeovers)):
            self._grow(f"outbox_{name}", "", counter, counts.get(name, 0))
        for stage, name in (("database", "failed_sweeps"), ("publish", "unconfirmed")):
            self._grow("outbox_errors", stage, self.outbox_errors.labels(stage), counts.get(name, 0))

    def _grow(self, name: str, label: str, counter: Any, total: int) -> None:
        key = (name, label)
        delta = total - self._last.get(key, 0)
        if delta > 0:
            counter.inc(delta)
        self._last[key] = total

    def render(self) -> bytes:
        """The exposition text: this process's metrics, or every worker's summed."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        self.sync()
        if self._registry is not None:  # not multiprocess
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def close(self) -> None:
        """This worker stops: its live gauges no longer count."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())

    def _clear_dead_workers(self) -> None:
        """A worker that crashed never marked itself dead: do it for it."""
        from prometheus_client import multiprocess

        path = os.environ[MULTIPROC_ENV]
        pids = {int(m.group(1)) for f in os.listdir(path) if (m := re.search(r"_(\d+)\.db$", f))}
        for pid in pids:
            if not _alive(pid):
                with contextlib.suppress(OSError):
                    multiprocess.mark_process_dead(pid, path)
