# ruff: noqa: RUF001, RUF002  (the report is typeset: en dashes, multiplication and minus signs)
"""Run every workload against every target and write ``bench/BENCHMARKS.md`` and its plots.

``python -m bench.run [--runs 3] [--quick] [--workloads W1,history] [--targets wsns,raw]``

Runs are interleaved (run 1 of every cell, then run 2, ...) so a burst of outside load
smears over all targets instead of landing on one. Every cell gets fresh server
processes; one private redis-server serves the whole run. Raw figures go to
``bench/results/`` (git-ignored); the report shows medians with min–max, and ratios
computed run by run (each run's sanic-wsns figure over the same run's peer figure; for
the cost workloads, each run's "on" over the same run's "off"). SVG plots go to
``plots/`` beside the report. Parts with a shape of their own (the scale curve) plug in
as a ``Section``: appended to ``SECTIONS``, run after the cells, rendered and plotted
after the workload tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import plots
from bench.scale import run_scale
from bench.scale_report import scale_section, write_plots
from bench.servers import REDIS_SERVER, ROOT, TARGET_NAMES, Child, start_redis
from bench.workloads import FULL, QUICK, VARIANTS, WORKLOADS, Sizes, Skipped, wsns_redis_available

RESULTS = ROOT / "bench" / "results"
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


# -- running -----------------------------------------------------------------------------


def run_cell(workload: str, target: str, sizes: Sizes, logs: Path, redis: Child) -> dict[str, Any]:
    """One workload against one target on fresh servers; failures become figures too."""
    started = time.monotonic()
    with ExitStack() as cell:
        try:
            figures = WORKLOADS[workload](cell, target, sizes, logs, redis)
        except Skipped as exc:
            figures = {"skipped": str(exc)}
        except Exception as exc:
            figures = {"error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
    print(f"{workload} {target:8s} {time.monotonic() - started:5.1f}s {json.dumps(figures)[:160]}",
          file=sys.stderr, flush=True)
    return figures


@dataclass(frozen=True)
class Section:
    """A part of the benchmark with a shape of its own (e.g. the scale curve): run once
    after the workload cells on the run's redis-server, then rendered and plotted after
    the workload tables. Its figures must be JSON, so ``--render`` can redraw them."""

    name: str
    run: Callable[[Sizes, bool, Child], dict[str, Any]]  # (sizes, quick, redis) -> figures
    render: Callable[[dict[str, Any]], list[str]]  # figures -> markdown lines
    plot: Callable[[dict[str, Any], Path], list[Path]]  # figures, plot folder -> SVGs written


#: Appended to by the modules that bring a section; run in this order.
SECTIONS: list[Section] = [
    # The scale curve (bench/scale.py brings its own servers, load generators and Redis).
    Section("scale", lambda sizes, quick, redis: run_scale(quick), lambda figures: [
        *scale_section(figures).splitlines(), "",
        "The moonshot (100,000 idle connections on 6 instances, then one broadcast to all) takes "
        "longer and runs on its own: `python -m bench.scale --moonshot`, reported in [SCALE.md](SCALE.md)."],
        write_plots),
]


def run_all(workloads: list[str], targets: list[str], sizes: Sizes, runs: int,
            parallel: bool = False, sections: list[Section] | None = None, quick: bool = False,
            on_run: Callable[[Results, int], None] | None = None) -> tuple[Results, dict[str, Any]]:
    """Every cell ``runs`` times, then every section once; ``on_run(results, n)`` after each
    complete run (a checkpoint). A cost workload runs its variants in place of ``targets``.
    ``parallel`` runs a peer workload's targets side by side: only for the smoke run, whose
    figures are not compared (they would disturb each other); a cost workload's variants
    never share the machine, or their Redis counts would mix."""
    results: Results = {w: {t: [] for t in VARIANTS.get(w, targets)} for w in workloads}
    extra: dict[str, Any] = {}
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        redis = start_redis(stack, logs)
        for run in range(runs):
            print(f"run {run + 1}/{runs}", file=sys.stderr, flush=True)
            for workload in workloads:
                columns = list(results[workload])
                if parallel and workload not in VARIANTS:
                    with ThreadPoolExecutor(len(columns)) as pool:
                        cells = list(pool.map(partial(run_cell, workload, sizes=sizes, logs=logs,
                                                      redis=redis), columns))
                else:  # in the main thread, so Ctrl-C stops the run (and its children) at once
                    cells = [run_cell(workload, t, sizes, logs, redis) for t in columns]
                for target, figures in zip(columns, cells, strict=True):
                    results[workload][target].append(figures)
            if on_run is not None:
                on_run(results, run + 1)
        for section in SECTIONS if sections is None else sections:
            extra[section.name] = section.run(sizes, quick, redis)
    return results, extra


# -- aggregating -------------------------------------------------------------------------


def spread(values: list[float], fmt: str) -> str:
    """``median (min–max)``, or the single value."""
    if not values:
        return "–"
    median = fmt.format(statistics.median(values))
    if len(values) == 1 or min(values) == max(values):
        return median
    return f"{median} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def values(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in runs if r.get(key) is not None]


def goal_values(results: Results, goal: Goal) -> list[float]:
    """The goal's figure run by run (each from one run's cells only)."""
    cells_by_target = results.get(goal.workload, {})
    n_runs = max((len(r) for r in cells_by_target.values()), default=0)
    out = []
    for i in range(n_runs):
        cells = {t: r[i] for t, r in cells_by_target.items() if i < len(r)}
        value = goal.value(cells)
        if value is not None:
            out.append(value)
    return out


def verdict(goal: Goal, observed: list[float]) -> str:
    if not observed:
        return "not measured"
    if goal.limit is None:
        return "reported"
    median = statistics.median(observed)
    met = median <= goal.limit if goal.at_most else median >= goal.limit
    return "**met**" if met else "**not met**"


# -- reporting ---------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def head_commit() -> str:
    """The checkout's commit, short; recorded with the raw figures it measured."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "?"


def machine(commit: str) -> list[str]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    redis_version = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout
    redis_version = redis_version.split("v=")[1].split()[0] if "v=" in redis_version else "?"
    versions = ", ".join(f"{name} {_version(name)}" for name in (
        "sanic", "python-socketio", "python-engineio", "uvicorn", "websockets", "uvloop", "msgspec",
        "redis"))
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem_kib / 2**20:.1f} GiB; "
        f"Linux {platform.release()}",
        f"- Python {platform.python_version()}; sanic-wsns {_version('sanic-wsns')} at commit `{commit}`",
        f"- {versions}; redis-server {redis_version}",
    ]


def goal_table(goals: list[Goal], results: Results) -> list[str]:
    out = ["| workload | figure | observed | goal | verdict |", "| --- | --- | --- | --- | --- |"]
    for goal in goals:
        if goal.workload not in results:
            continue
        observed = goal_values(results, goal)
        sign = "≤" if goal.at_most else "≥"
        limit = "–" if goal.limit is None else f"{sign} {goal.fmt.format(goal.limit)}"
        out.append(f"| {goal.workload} | {goal.what} | {spread(observed, goal.fmt)} | {limit} | "
                   f"{verdict(goal, observed)} |")
    return out


def report(results: Results, sizes: Sizes, runs: int, started: dt.datetime, load: tuple[str, str],
           seconds: float, profile: str, pictures: list[Path] | None = None,
           extra: dict[str, Any] | None = None, commit: str | None = None) -> str:
    """The whole report; ``pictures`` are SVGs relative to the report's folder; ``commit``
    is the one measured (a re-render must not stamp today's checkout on an old run)."""
    out = [
        "# Benchmarks",
        "",
        f"Generated by `python -m bench.run --runs {runs}` on {started:%Y-%m-%d %H:%M} UTC, "
        f"{seconds / 60:.1f} min wall time. Every cell: median of {runs} run(s) with (min–max). "
        "Ratios are taken run by run (each run's sanic-wsns figure over the same run's peer figure), "
        "then their median (min–max) is shown. Method and fairness notes are at the end.",
        "",
        *(f"![{path.stem}]({path.as_posix()})" for path in pictures or []),
        "",
        "## Machine",
        "",
        *machine(commit or head_commit()),
        f"- Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]}. This is a **shared "
        f"{os.cpu_count()}-core machine**: other engineers ran test suites during the run, so "
        "expect noise, above all in wall-clock figures (rates, latencies). CPU per delivery, read "
        "from /proc for the server process only, is the most robust figure.",
        "",
        "## Targets",
        "",
        "| target | server | WebSocket implementation | cross-instance |",
        "| --- | --- | --- | --- |",
        "| sanic-wsns | Sanic, single process (uvloop) | Sanic's (websockets sans-I/O protocol); "
        "broadcast frames pre-built and written straight to the transport | `redis://` broker, "
        "a channel per namespace |",
        "| raw Sanic floor | Sanic, single process (uvloop) | Sanic's; `for ws in room: await ws.send(msg)` "
        "| one Redis pattern subscription `raw:*` |",
        "| python-socketio | `AsyncServer` (ASGI) on uvicorn (uvloop, httptools) | uvicorn `--ws websockets` "
        "(websockets' legacy server) | `AsyncRedisManager` (one channel for everything) |",
        "",
    ]
    if any(w in results for w in TITLES if w not in VARIANTS):
        out += ["## Issue 7 targets", "", *goal_table(GOALS, results)]
    if any(w in results for w in VARIANTS):
        out += ["", "## Cost of each guarantee (issue 15)", "",
                "Each guarantee switched on in the same sanic-wsns bench app "
                "(`python -m bench.targets.wsns_app --history|--presence|--metrics`), side by side in "
                "one run; ratios are run by run.", "", *goal_table(COSTS, results)]
    notes = misses(results)
    if notes:
        out += ["", "### Reading the misses", "", *notes]
    for workload, by_target in results.items():
        targets = list(by_target)
        out += ["", f"## {TITLES[workload]}", "", _sizes_line(workload, sizes), "",
                "| figure | " + " | ".join(column(workload, t) for t in targets) + " |",
                "| --- |" + " ---: |" * len(targets)]
        for metric in METRICS[workload]:
            cells = []
            for t in targets:
                runs_of = by_target[t]
                problem = next((r.get("skipped") or r.get("error") for r in runs_of
                                if "skipped" in r or "error" in r), None)
                cells.append(f"n/a ({problem})" if problem and not values(runs_of, metric.key)
                             else spread(values(runs_of, metric.key), metric.fmt))
            out.append(f"| {metric.label} | " + " | ".join(cells) + " |")
        out += redis_commands(workload, by_target)
    for section in SECTIONS:
        if extra and section.name in extra:
            out += ["", *section.render(extra[section.name])]
    out += ["", METHOD]
    if profile:
        out += ["", "## Where the time goes (py-spy, same machine, right after the runs)", "",
                "`python -m bench.profile --target T --workload W [--features F]` reproduces each; "
                "flame graphs land in "
                "`bench/results/`.", "", profile]
    return "\n".join(out) + "\n"


def misses(results: Results) -> list[str]:
    """For every goal not met, the figures from this run that explain it."""
    def med(workload: str, target: str, key: str) -> float | None:
        found = values(results.get(workload, {}).get(target, []), key)
        return statistics.median(found) if found else None

    notes = []
    missed = {g.workload + g.what for g in GOALS
              if verdict(g, goal_values(results, g)) == "**not met**"}
    for workload in ("W1", "W2"):
        if any(m.startswith(workload + "CPU") for m in missed):
            parts = {t: (med(workload, t, "user_us_per_delivery"), med(workload, t, "system_us_per_delivery"))
                     for t in TARGET_NAMES}
            split = "; ".join(f"{TARGET_NAMES[t]} {u:.2f} user + {k:.2f} system"
                              for t, (u, k) in parts.items() if u is not None and k is not None)
            notes.append(f"- {workload} CPU per delivery, µs: {split}. System time is the kernel's "
                         "loopback TCP path behind one `send()` per client per frame, which every "
                         "target pays; the profile below shows where the user time goes.")
    if "W1paced p99 latency vs raw Sanic" in missed:
        notes.append(f"- W1 paced latency is mostly the load generator reading 200 sockets per "
                     f"broadcast (one Python process): raw floor p50 {med('W1', 'raw', 'p50_ms'):.2f} ms, "
                     f"sanic-wsns p50 {med('W1', 'wsns', 'p50_ms'):.2f} ms; the server's own part is its "
                     f"CPU per paced delivery ({med('W1', 'wsns', 'paced_cpu_us_per_delivery'):.1f} µs vs "
                     f"{med('W1', 'raw', 'paced_cpu_us_per_delivery'):.1f} µs) times 200 clients.")
    if "W3RSS per idle connection vs raw Sanic" in missed:
        ours, floor = med("W3", "wsns", "rss_kib_per_connection"), med("W3", "raw", "rss_kib_per_connection")
        if ours is not None and floor is not None:
            notes.append(f"- W3: sanic-wsns holds {ours - floor:.1f} KiB more per idle connection than the "
                         f"floor ({ours:.1f} vs {floor:.1f} KiB). `python -m bench.memprofile` itemizes it "
                         "with tracemalloc: what is left is the state a namespace member needs (its "
                         "`Client`, rate-limit bucket and handler queue) and two coroutine frames "
                         "(`serve` → `_receive`) between Sanic's handler task and `ws.recv()`.")
    if "W4create+drop cycles/s" in missed:
        ours, floor = med("W4", "wsns", "cpu_us_per_cycle"), med("W4", "raw", "cpu_us_per_cycle")
        if ours is not None and floor is not None:
            notes.append(f"- W4: one connect → welcome → close cycle costs the raw Sanic floor {floor:.0f} "
                         f"µs "
                         f"of server CPU (a ceiling of {1e6 / floor:,.0f} cycles per CPU-second before any "
                         f"extension runs) and sanic-wsns {ours:.0f} µs ({ours / floor:.2f}×). On this "
                         "2-core machine the Python load generator's handshakes take the other core, so "
                         "≥ 1,000 cycles/s on one instance is out of reach for Sanic itself here; the W4 "
                         "profile below shows Sanic's HTTP and WebSocket handshake dominating and what share "
                         "runs under `sanic_wsns`.")
    cost_missed = {g.workload + g.what for g in COSTS if verdict(g, goal_values(results, g)) == "**not met**"}
    for workload in ("history", "metrics"):
        if any(m.startswith(workload + "server") for m in cost_missed):
            parts = {v: (med(workload, v, "user_us_per_delivery"), med(workload, v, "system_us_per_delivery"))
                     for v in ("off", "on")}
            split = "; ".join(f"{v} {u:.2f} user + {k:.2f} system" for v, (u, k) in parts.items()
                              if u is not None and k is not None)
            where = ("the two W2 profiles below (instance A, history off and on)" if workload == "history"
                     else "profiles (`python -m bench.profile --workload W1 [--features metrics]`)")
            notes.append(f"- {workload} on costs more CPU per delivery than the goal allows, µs: {split}; "
                         f"{where} show where the extra time goes.{_noise_floor(results, workload)}")
    if "W5broker messages B got for rooms it does not host" in missed:
        notes.append(f"- W5: instance B received {med('W5', 'wsns', 'b_broker_foreign'):.0f} broker messages "
                     "for namespaces it does not host.")
    return notes


#: The peer cell that runs the same configuration as a cost workload's "off" variant.
TWINS = {"history": "W2", "metrics": "W1"}


def _noise_floor(results: Results, workload: str) -> str:
    """How far the same configuration measured twice in one run lands apart: the peer
    cell's sanic-wsns over the cost workload's "off", run by run."""
    twin = results.get(TWINS[workload], {}).get("wsns", [])
    ratios = [a["cpu_us_per_delivery"] / b["cpu_us_per_delivery"]
              for a, b in zip(twin, results[workload]["off"], strict=False)
              if a.get("cpu_us_per_delivery") and b.get("cpu_us_per_delivery")]
    if not ratios:
        return ""
    return (f" For scale, the very same app and shape measured twice in each run ({TWINS[workload]} "
            f"sanic-wsns ÷ {workload} off) gives {spread(ratios, '{:.2f}×')}: that is this machine's noise.")


def redis_commands(workload: str, by_target: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The Redis commands behind a cost workload's figures, per variant (first run)."""
    lines = []
    for variant, runs_of in by_target.items():
        commands = next((r["redis_commands"] for r in runs_of if r.get("redis_commands")), None)
        if commands:
            ranked = sorted(commands.items(), key=lambda item: -item[1])
            lines.append(f"- Redis commands, {column(workload, variant)} (run 1): "
                         + ", ".join(f"`{name}` {n:,}" for name, n in ranked))
    return ["", *lines] if lines else []


def _sizes_line(workload: str, s: Sizes) -> str:
    return {
        "W1": f"{s.fanout_clients} clients in one room; {s.broadcasts:,} broadcasts of ~100 bytes with at "
              f"most {s.window} unanswered; then {s.paced} broadcasts paced at {s.paced_rate:.0f}/s for "
              "latency.",
        "W2": "Same as W1, clients alternating between instances A and B; the sender is on A.",
        "W3": f"{s.idle_connections:,} connections over {s.idle_namespaces} namespaces, "
              "opened 50 at a time.",
        "W4": f"{s.churn_cycles:,} connect → joined → close cycles, {s.churn_workers} at a time, each "
              f"to a fresh room; leaks read {s.linger_wait} s later.",
        "W5": f"A hosts {s.many_namespaces:,} namespaces (one sender each, {s.many_messages} messages each); "
              f"B hosts a listener in {s.many_on_b} of them.",
        "history": "W2 (above) on two fresh instances of the sanic-wsns bench app, without and with "
                   "`history=History()` (size 100, ttl 300 s) on its pattern. With history every "
                   "broadcast is numbered by one Redis script (HINCRBY, XADD with MAXLEN, EXPIRE, PUBLISH) "
                   "and even the sender's own instance delivers it only once Redis gave the offset.",
        "metrics": "W1 (above) without and with `metrics_url=\"/metrics\"` (prometheus_client counting; "
                   "not scraped during the stage).",
        "presence": f"{s.presence_clients:,} clients join one room over {s.presence_span:.0f} s, evenly "
                    f"spaced and alternating between instances A and B; each stays {s.presence_hold:.1f} s "
                    f"(so about {s.presence_clients * s.presence_hold / s.presence_span:,.0f} are in the "
                    "room at once), then leaves. Frames are counted where the clients receive them; Redis "
                    "commands from the run's private redis-server (`INFO commandstats`).",
        "recovery": f"{s.recovery_clients:,} clients in one room on instance A, a publisher on B. A is "
                    f"killed (SIGKILL); B publishes {s.recovery_missed} broadcasts; A restarts on the "
                    "same port; every client comes back with `?since=<offset>&epoch=<epoch>` (50 "
                    "handshakes at a time). Timed from A listening again until every client has every "
                    "missed frame (or a `resync`). With history off nothing can be recovered: each "
                    "returning client is an app snapshot (a database read).",
    }[workload]


METHOD = """## Method

- **Processes.** Each target runs as its own process (`python -m bench.targets.<name> --port N
  [--broker URL]`), fresh for every cell, on a free loopback port; the load generator
  (`python -m bench.loadgen`) is another process; a private `redis-server` (no persistence) on
  a free port serves the run. The harness stops exactly the processes it started.
- **Client.** One load-generator process per cell, `websockets` asyncio client on uvloop, no
  compression offered (so no target negotiates permessage-deflate), no client keepalive pings.
  Socket.IO is spoken as Engine.IO v4 / Socket.IO v5 text packets over that same client
  (`40{"room": …}` to join, `42["echo-all", …]` to send, `2`→`3` pings), so the client costs the
  same for every target. "Joined" means the first frame back: sanic-wsns's `welcome`, the raw
  floor's equivalent welcome frame, Socket.IO's namespace `CONNECT` ack (sent after the room
  is entered).
- **Messages.** Every broadcast is `echo-all` with the same data (`{"p", "seq", "t", "pad"}`,
  ~100 bytes on the wire), decoded by the server and re-encoded once, broadcast to the room,
  sender included. Latency = receive time − send time on one monotonic clock, for every
  delivery.
- **CPU.** `utime + stime` of the server process(es) from `/proc/<pid>/stat`, sampled when the
  load generator starts and ends a stage (connecting and closing clients are outside it), divided
  by the deliveries counted by the clients. On loopback the kernel's whole TCP path (the
  receiving half too) is billed to the writer's system time, so "system" is mostly `send()`.
  RSS from `/proc/<pid>/status` (`VmRSS`), after a 20-connection warm-up, before and 1 s after
  opening all connections.
- **Cost of each guarantee.** The same bench app (`bench/targets/wsns_app.py`) with one flag
  (`--history`: `History()` on its pattern; `--metrics`: `metrics_url="/metrics"`;
  `--presence`: `presence=True`) against itself without it, on fresh processes, off then on,
  in the same run; the ratio is taken run by run. Redis commands are the difference of two
  `INFO commandstats` readings of the run's private redis-server at the stage's start and
  end (the two readings' own HELLO and INFO taken out; a script counts as its `EVALSHA` plus
  every command it runs); a cost workload's variants never run
  side by side, so the counts are theirs alone. Presence frames are counted where the
  clients receive them. The recovery workload kills instance A with SIGKILL (its clients see
  the connection drop, as after a crash) and starts the same command on the same port;
  clients come back through the v1.1 query (`?since=&epoch=`), the browser client's way.
- **Sizes and budget.** The full run (`--runs 3`) is sized to finish in about 25 minutes on
  this 2-core machine, py-spy profiles included: the cost cells add W1 and W2 once more
  each per run, 2 × 10 s of presence churn and 2 × 1,000 returning clients.
- **Fairness.** Same machine, same run, same message bytes; access logs off everywhere; listen
  backlog 1024 everywhere; Sanic single-process; uvicorn one worker with `--ws websockets`.
  sanic-wsns's bench app lifts the per-client rate limit (default 50 msg/s) since one client
  drives the whole room; its token bucket still runs on every message.
- **Rerun.** `pip install -e '.[bench]'` (Debian: `apt-get install redis-server`), then
  `python -m bench.run --runs 3` (writes this file and `bench/plots/*.svg`; raw figures in
  `bench/results/`; `--render <raw json>` redraws both from an earlier run's figures).
  `python -m bench.profile --target wsns` profiles a server under W1 with py-spy.
  `python -m bench.run --quick` is the tiny smoke run (`tests/integration/bench/test_smoke.py`)."""


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    parser.add_argument("--runs", type=int, default=None, help="runs per cell (default 3, quick 1)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--targets", default="wsns,raw,socketio")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/BENCHMARKS.md (quick: bench/results/BENCHMARKS.quick.md)")
    parser.add_argument("--json", type=Path, default=None,
                        help="raw figures file (default bench/results/run-<time>.json)")
    parser.add_argument("--render", type=Path, default=None,
                        help="only rewrite the report from a raw figures file of an earlier run")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile section")
    parser.add_argument("--parallel", action=argparse.BooleanOptionalAction, default=None,
                        help="run a workload's targets side by side (default: only with --quick)")
    args = parser.parse_args(argv)
    # A stopped run must still stop its servers: SIGTERM unwinds like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.render is not None:
        out = args.out or ROOT / "bench" / "BENCHMARKS.md"
        write(out, json.loads(args.render.read_text()))
        print(f"wrote {out} and its plots from {args.render}", file=sys.stderr)
        return out
    sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else 3)
    out = args.out or (RESULTS / "BENCHMARKS.quick.md" if args.quick else ROOT / "bench" / "BENCHMARKS.md")
    started = dt.datetime.now(dt.UTC)
    load_start = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    t0 = time.monotonic()
    if not wsns_redis_available():
        print("note: sanic_wsns.broker.redis is missing: W2/W5 skip sanic-wsns", file=sys.stderr)
    parallel = args.quick if args.parallel is None else args.parallel
    raw = args.json or RESULTS / f"run-{started:%Y%m%dT%H%M%S}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    commit = head_commit()

    def save(results: Results, runs_done: int, extra: dict[str, Any] | None = None,
             profile: str = "") -> dict[str, Any]:
        """The raw figures so far: a run stopped midway can still be rendered (``--render``)."""
        load_end = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        saved = {"sizes": asdict(sizes), "runs": runs_done, "results": results, "sections": extra or {},
                 "started": started.isoformat(), "load": [load_start, load_end],
                 "seconds": time.monotonic() - t0, "profile": profile, "commit": commit}
        raw.write_text(json.dumps(saved, indent=1))
        return saved

    results, extra = run_all(args.workloads.split(","), args.targets.split(","), sizes, runs, parallel,
                             quick=args.quick, on_run=save)
    profile = "" if args.quick or args.no_profile else _profile()
    saved = save(results, runs, extra, profile)
    seconds = saved["seconds"]
    write(out, saved)
    print(f"wrote {out} and its plots ({seconds:.0f}s); raw figures in {raw}", file=sys.stderr)
    return out


def write(out: Path, saved: dict[str, Any]) -> None:
    """The report at ``out`` and its SVGs in ``plots/`` beside it, from a run's raw figures."""
    folder = out.parent / "plots"
    extra = saved.get("sections", {})
    pictures = plots.plot_results(saved["results"], folder)
    for section in SECTIONS:
        if section.name in extra:
            pictures += section.plot(extra[section.name], folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report(saved["results"], Sizes(**saved["sizes"]), saved["runs"],
                          dt.datetime.fromisoformat(saved["started"]), tuple(saved["load"]), saved["seconds"],
                          saved["profile"], [p.relative_to(out.parent) for p in pictures], extra,
                          saved.get("commit")))


#: What ``_profile`` samples: (workload, stage, target, features), each a py-spy run of its own.
PROFILES = (
    ("W1", "windowed", "wsns", ()),
    ("W1", "windowed", "raw", ()),
    ("W4", "churn", "wsns", ()),
    ("W4", "churn", "raw", ()),
    # The cost of history, seen from the sender's instance A: where the extra time goes.
    ("W2", "windowed", "wsns", ()),
    ("W2", "windowed", "wsns", ("history",)),
)


def _profile() -> str:
    """py-spy summaries of the ``PROFILES`` (skipped without py-spy)."""
    sections = []
    for workload, stage, target, features in PROFILES:
        done = subprocess.run([sys.executable, "-m", "bench.profile", "--target", target,
                               "--workload", workload, "--features", ",".join(features), "--top", "12"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return f"(profile skipped: {done.stderr.strip().splitlines()[-1:]})"
        body = done.stdout.split("\n\n", 1)[-1].strip()
        switched = f", {' + '.join(features)} on" if features else ""
        where = ", instance A (the sender's)" if workload == "W2" else ""
        sections.append(f"### {workload} ({stage} stage), {TARGET_NAMES[target]}{switched}{where}\n\n"
                        f"```\n{body}\n```")
    return "\n\n".join(sections)


if __name__ == "__main__":
    main()
