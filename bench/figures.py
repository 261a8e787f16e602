# ruff: noqa: RUF001  (the report is typeset: en dashes and multiplication signs)
"""What the benchmark measures and what it aims at: every figure a workload reports, how the
report labels it, and the goals each run is judged against. ``bench.run`` runs the cells,
``bench.report`` renders them; both read these declarations, so a new figure or goal is
written once, here."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.servers import TARGET_NAMES
from bench.workloads import VARIANTS

#: What the cost workloads switch, for their columns ("history off", "history on").
GUARANTEES = {"history": "history", "metrics": "metrics", "presence": "presence",
              "recovery": "history"}
#: cell -> run index -> figures (or {"skipped": reason} / {"error": text})
Results = dict[str, dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    fmt: str = "{:.1f}"


def cpu_per_delivery(label: str) -> list[Metric]:
    """CPU per delivery and its user/system split: the first rows of every delivery table."""
    return [Metric("cpu_us_per_delivery", f"{label} (µs)", "{:.2f}"),
            Metric("user_us_per_delivery", "… of which user (µs)", "{:.2f}"),
            Metric("system_us_per_delivery", "… of which system/kernel (µs)", "{:.2f}")]


#: What a workload that opens and closes clients must leave behind: nothing.
LEFT_BEHIND = [Metric("leaked_namespaces", "namespaces left afterwards", "{:.0f}"),
               Metric("leaked_clients", "clients left afterwards", "{:.0f}")]

METRICS: dict[str, list[Metric]] = {
    "W1": [
        *cpu_per_delivery("server CPU per delivery"),
        Metric("deliveries_per_s", "deliveries/s (windowed; load generator bound)", "{:,.0f}"),
        Metric("lost", "deliveries lost", "{:.0f}"),
        Metric("p50_ms", "paced p50 latency (ms)", "{:.2f}"),
        Metric("p99_ms", "paced p99 latency (ms)", "{:.2f}"),
        Metric("paced_cpu_us_per_delivery", "paced server CPU per delivery (µs)", "{:.2f}"),
    ],
    "W2": [
        *cpu_per_delivery("servers' CPU per delivery, A+B"),
        Metric("redis_cpu_us_per_delivery", "redis-server CPU per delivery (µs)", "{:.2f}"),
        Metric("deliveries_per_s", "deliveries/s (windowed)", "{:,.0f}"),
        Metric("lost", "deliveries lost", "{:.0f}"),
        Metric("p50_ms", "paced p50 latency, all (ms)", "{:.2f}"),
        Metric("p99_ms", "paced p99 latency, all (ms)", "{:.2f}"),
        Metric("local_p99_ms", "paced p99, sender's instance (ms)", "{:.2f}"),
        Metric("remote_p50_ms", "paced p50, other instance (ms)", "{:.2f}"),
        Metric("remote_p99_ms", "paced p99, other instance (ms)", "{:.2f}"),
    ],
    "W3": [
        Metric("rss_kib_per_connection", "server RSS per idle connection (KiB)", "{:.1f}"),
        Metric("opens_per_s", "connections opened/s (authorize + join included)", "{:,.0f}"),
        Metric("open_seconds", "time to open all (s)", "{:.2f}"),
        Metric("cpu_us_per_open", "server CPU per open (µs)", "{:.0f}"),
        Metric("rss_mib_idle", "server RSS before (MiB)", "{:.1f}"),
        Metric("connections", "connections held", "{:,.0f}"),
        Metric("namespaces", "namespaces/rooms hosted", "{:,.0f}"),
    ],
    "W4": [
        Metric("cycles_per_s", "namespace create+drop cycles/s", "{:,.0f}"),
        Metric("cpu_us_per_cycle", "server CPU per cycle (µs)", "{:.0f}"),
        Metric("user_us_per_cycle", "… of which user (µs)", "{:.0f}"),
        Metric("cycles_per_cpu_s", "cycles per server CPU-second (the server's ceiling)", "{:,.0f}"),
        *LEFT_BEHIND,
        Metric("leaked_subscriptions", "broker subscriptions left", "{:.0f}"),
        Metric("leaked_pending", "timers/tasks pending in the registry", "{:.0f}"),
        Metric("leaked_tasks", "asyncio tasks vs before", "{:+.0f}"),
    ],
    "history": [
        *cpu_per_delivery("servers' CPU per delivery, A+B"),
        Metric("redis_cpu_us_per_delivery", "redis-server CPU per delivery (µs)", "{:.2f}"),
        Metric("deliveries_per_s", "deliveries/s (windowed)", "{:,.0f}"),
        Metric("lost", "deliveries lost", "{:.0f}"),
        Metric("local_p50_ms", "paced p50, sender's instance (ms)", "{:.2f}"),
        Metric("local_p99_ms", "paced p99, sender's instance (ms)", "{:.2f}"),
        Metric("remote_p50_ms", "paced p50, other instance (ms)", "{:.2f}"),
        Metric("remote_p99_ms", "paced p99, other instance (ms)", "{:.2f}"),
    ],
    "metrics": [
        *cpu_per_delivery("server CPU per delivery"),
        Metric("lost", "deliveries lost", "{:.0f}"),
        Metric("p50_ms", "paced p50 latency (ms)", "{:.2f}"),
        Metric("p99_ms", "paced p99 latency (ms)", "{:.2f}"),
    ],
    "presence": [
        Metric("cpu_us_per_join", "servers' CPU per join+leave, A+B (µs)", "{:,.0f}"),
        Metric("servers_cpu_s", "servers' CPU over the churn (s)", "{:.2f}"),
        Metric("redis_ops_per_s", "Redis commands/s", "{:,.0f}"),
        Metric("redis_ops_per_join", "Redis commands per join+leave", "{:.1f}"),
        Metric("redis_cpu_us_per_join", "redis-server CPU per join+leave (µs)", "{:.0f}"),
        Metric("presence_frames_per_join", "presence frames received per join", "{:.1f}"),
        Metric("state_frames", "… presence_state frames", "{:,.0f}"),
        Metric("diff_frames", "… presence_diff frames", "{:,.0f}"),
        Metric("diff_entries", "joins+leaves carried by those diffs", "{:,.0f}"),
        *LEFT_BEHIND,
    ],
    "recovery": [
        Metric("seconds_to_all_back", "time until every client is back and caught up (s)", "{:.2f}"),
        Metric("recovered", "clients recovered (every missed frame, in offset order)", "{:,.0f}"),
        Metric("refetches", "clients that must re-fetch their state (app DB reads)", "{:,.0f}"),
        Metric("resynced", "… of which told by `resync`", "{:,.0f}"),
        Metric("missed_frames_per_client", "missed frames received per client", "{:.1f}"),
        Metric("out_of_order", "frames out of offset order", "{:.0f}"),
        Metric("redis_ops", "Redis commands during the return", "{:,.0f}"),
        Metric("redis_ops_per_client", "… per returning client", "{:.1f}"),
        Metric("servers_cpu_us_per_client", "servers' CPU per returning client (µs)", "{:,.0f}"),
        *LEFT_BEHIND,
    ],
    "W5": [
        Metric("b_broker_foreign", "B: broker messages for rooms B does not host", "{:,.0f}"),
        Metric("b_broker_received", "B: broker messages received", "{:,.0f}"),
        Metric("b_expected", "B: messages of its own rooms", "{:,.0f}"),
        Metric("messages", "messages published (all rooms)", "{:,.0f}"),
        Metric("b_cpu_ms", "B: CPU during the traffic (ms)", "{:.0f}"),
        Metric("a_cpu_us_per_message", "A: CPU per message (µs)", "{:.0f}"),
        Metric("lost", "deliveries lost", "{:.0f}"),
    ],
}

TITLES = {
    "W1": "W1 fan-out (1 instance, 1 room)",
    "W2": "W2 cross-instance (2 instances + Redis, clients split)",
    "W3": "W3 idle connections",
    "W4": "W4 churn",
    "W5": "W5 many namespaces (2 instances + Redis; B hosts few)",
    "history": "Cost of history (W2's shape, history off vs on)",
    "metrics": "Cost of metrics (W1's shape, metrics off vs on)",
    "presence": "Cost of presence (join/leave churn, 2 instances + Redis, presence off vs on)",
    "recovery": "Recovery after an instance restart (history off vs on)",
}


def column(workload: str, target: str) -> str:
    """A results column: a peer target, or a cost workload's variant."""
    return f"{GUARANTEES[workload]} {target}" if workload in VARIANTS else TARGET_NAMES[target]


@dataclass(frozen=True)
class Goal:
    """One figure of a run, ``value(run figures)``, compared with ``limit`` (``None``: a
    figure reported without a goal)."""

    workload: str
    what: str
    value: Callable[[dict[str, dict[str, Any]]], float | None]
    limit: float | None
    at_most: bool = True
    fmt: str = "{:.2f}×"


def _ratio(key: str, peer: str, ours: str = "wsns") -> Callable[[dict[str, dict[str, Any]]], float | None]:
    def value(cells: dict[str, dict[str, Any]]) -> float | None:
        mine, theirs = cells.get(ours, {}).get(key), cells.get(peer, {}).get(key)
        return mine / theirs if mine is not None and theirs else None
    return value


def _ours(key: str, target: str = "wsns") -> Callable[[dict[str, dict[str, Any]]], float | None]:
    return lambda cells: cells.get(target, {}).get(key)


def _on_off(key: str) -> Callable[[dict[str, dict[str, Any]]], float | None]:
    return _ratio(key, "off", "on")


def _refetches_avoided(cells: dict[str, dict[str, Any]]) -> float | None:
    off, on = cells.get("off", {}).get("refetches"), cells.get("on", {}).get("refetches")
    return off - on if off is not None and on is not None else None


def _leaks(cells: dict[str, dict[str, Any]]) -> float | None:
    ours = cells.get("wsns")
    if not ours or "leaked_namespaces" not in ours:
        return None
    return (ours["leaked_namespaces"] + ours["leaked_clients"] + ours["leaked_subscriptions"]
            + ours["leaked_pending"] + max(0, ours["leaked_tasks"]))


GOALS = [
    Goal("W1", "CPU per delivery vs raw Sanic", _ratio("cpu_us_per_delivery", "raw"), 1.0, True),
    Goal("W1", "CPU per delivery vs python-socketio", _ratio("cpu_us_per_delivery", "socketio"), 0.33, True),
    Goal("W1", "paced p99 latency vs raw Sanic", _ratio("p99_ms", "raw"), 1.10, True),
    Goal("W2", "CPU per delivery vs raw Sanic", _ratio("cpu_us_per_delivery", "raw"), 1.0, True),
    Goal("W2", "CPU per delivery vs python-socketio", _ratio("cpu_us_per_delivery", "socketio"), 0.33, True),
    Goal("W3", "RSS per idle connection vs raw Sanic", _ratio("rss_kib_per_connection", "raw"), 1.0, True),
    Goal("W3", "open rate vs raw Sanic", _ratio("opens_per_s", "raw"), 0.9, False),
    Goal("W3", "open rate vs python-socketio", _ratio("opens_per_s", "socketio"), 1.8, False),
    Goal("W4", "create+drop cycles/s", _ours("cycles_per_s"), 1000, False, "{:,.0f}"),
    Goal("W4", "leaked (namespaces+clients+subscriptions+timers+tasks)", _leaks, 0, True, "{:.0f}"),
    Goal("W5", "broker messages B got for rooms it does not host", _ours("b_broker_foreign"), 0, True,
         "{:.0f}"),
]

#: Issue 15: what each guarantee costs, "on" over "off" in the same run.
COSTS = [
    Goal("history", "servers' CPU per delivery, on ÷ off", _on_off("cpu_us_per_delivery"), 1.3),
    Goal("history", "the same, against issue 28's goal 5", _on_off("cpu_us_per_delivery"), 1.15),
    Goal("history", "servers' CPU per delivery, the handler awaiting each position ÷ off",
         _ratio("cpu_us_per_delivery", "off", "awaited"), None),
    Goal("history", "redis-server CPU per delivery, on ÷ off", _on_off("redis_cpu_us_per_delivery"), None),
    Goal("history", "paced p50 on the sender's instance (local round trip), on ÷ off",
         _on_off("local_p50_ms"), None),
    Goal("history", "paced p99 on the sender's instance, on ÷ off", _on_off("local_p99_ms"), None),
    Goal("metrics", "server CPU per delivery, on ÷ off", _on_off("cpu_us_per_delivery"), 1.05),
    Goal("presence", "servers' CPU per join+leave, on ÷ off", _on_off("cpu_us_per_join"), None),
    Goal("presence", "Redis commands per join+leave, presence on", _ours("redis_ops_per_join", "on"), None,
         fmt="{:.1f}"),
    Goal("presence", "presence frames received per join, presence on",
         _ours("presence_frames_per_join", "on"), None, fmt="{:.1f}"),
    Goal("recovery", "clients that must re-fetch after the restart, history on", _ours("refetches", "on"), 0,
         fmt="{:,.0f}"),
    Goal("recovery", "app DB reads avoided vs history off", _refetches_avoided, None, fmt="{:,.0f}"),
    Goal("recovery", "time until every client is back and caught up, history on (s)",
         _ours("seconds_to_all_back", "on"), None, fmt="{:.2f}"),
    Goal("recovery", "Redis commands per returning client, history on", _ours("redis_ops_per_client", "on"),
         None, fmt="{:.1f}"),
]

#: The peer cell that runs the same configuration as a cost workload's "off" variant.
TWINS = {"history": "W2", "metrics": "W1"}


def spread(values: list[float], fmt: str) -> str:
    """The median and, when the runs differ, their range: ``median (min to max)`` as the
    report shows it, or the single value."""
    if not values:
        return "–"
    median = fmt.format(statistics.median(values))
    if len(values) == 1 or min(values) == max(values):
        return median
    return f"{median} ({fmt.format(min(values))}–{fmt.format(max(values))})"
