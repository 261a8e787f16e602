"""SVG pictures for the benchmark report: where we stand, at a glance.

Two helpers any part of the benchmark can use (``bar_chart`` for figures by target or
by guarantee, ``line_chart`` for curves such as the scale curve), ``save`` for a figure a
section draws itself, and ``plot_results``,
which draws the workload tables' headline figures. The SVGs are committed with the
report they came from, so they are kept small (text stays text, no embedded fonts) and
stable from one run to the next (fixed ids salt, no date in the metadata): a diff shows
figures that moved, not noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")

import matplotlib.pyplot as plt  # after choosing the backend

from bench.servers import TARGET_NAMES

plt.rcParams.update({
    "svg.hashsalt": "sanic-wsns-bench",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
})
METADATA = {"Date": None, "Creator": None}

#: (median, min, max) of one figure over the runs; ``None`` when it was not measured.
Spread = tuple[float, float, float] | None


def spread_of(values: Sequence[float]) -> Spread:
    return (statistics.median(values), min(values), max(values)) if values else None


def bar_chart(path: Path, title: str, groups: Sequence[str], series: Mapping[str, Sequence[Spread]],
              ylabel: str, goals: Sequence[float | None] = (), reference: float | None = None) -> Path:
    """Grouped bars: one group per ``groups`` entry, one bar per series, whiskers from min to max.

    ``goals`` (one per group, or none) draws each group's goal as a dashed mark across its
    bars; ``reference`` a dotted line across the whole chart (e.g. 1.0 for "costs nothing").
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    width = 0.8 / max(1, len(series))
    for i, (name, spreads) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        medians = [s[0] if s else 0.0 for s in spreads]
        errors = [[s[0] - s[1] if s else 0.0 for s in spreads], [s[2] - s[0] if s else 0.0 for s in spreads]]
        bars = ax.bar(xs, medians, width * 0.9, yerr=errors, capsize=2, label=name)
        ax.bar_label(bars, labels=[_short(s[0]) if s else "n/a" for s in spreads], fontsize=7, padding=2)
    for g, goal in enumerate(goals):
        if goal is not None:
            ax.hlines(goal, g - 0.45, g + 0.45, colors="black", linestyles="dashed", linewidth=1,
                      label="goal" if g == next(i for i, x in enumerate(goals) if x is not None) else None)
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle="dotted", linewidth=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.15)
    if len(series) > 1 or any(g is not None for g in goals):
        ax.legend(frameon=False, fontsize=8)
    return save(fig, path)


def line_chart(path: Path, title: str, x: Sequence[float], series: Mapping[str, Sequence[float | None]],
               xlabel: str, ylabel: str, logx: bool = False) -> Path:
    """One line per series over ``x`` (a missing point leaves a gap)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for name, ys in series.items():
        ax.plot(x, [float("nan") if y is None else y for y in ys], marker="o", markersize=3, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    return save(fig, path)


def _short(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def save(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a stable SVG (this module's style and ids salt, no date)
    and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata=METADATA)
    plt.close(fig)
    return path


# -- the report's pictures -----------------------------------------------------------------

Results = Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]]
#: (workload, figure, bar label, goal): the cost ratios drawn, "on" over "off" run by run.
#: Presence and recovery change what a join or a return does, not a per-delivery cost:
#: their figures are counts (frames, Redis commands, re-fetches), shown in their tables.
COST_BARS = (
    ("history", "cpu_us_per_delivery", "history:\nservers' CPU", 1.3),
    ("history", "redis_cpu_us_per_delivery", "history:\nRedis CPU", None),
    ("history", "local_p50_ms", "history:\nlocal p50", None),
    ("metrics", "cpu_us_per_delivery", "metrics:\nCPU", 1.05),
)


def _figure(results: Results, workload: str, target: str, key: str) -> Spread:
    runs = results.get(workload, {}).get(target, [])
    return spread_of([r[key] for r in runs if r.get(key) is not None])


def _ratios(results: Results, workload: str, key: str) -> Spread:
    runs = results.get(workload, {})
    pairs = zip(runs.get("on", []), runs.get("off", []), strict=False)
    return spread_of([on[key] / off[key] for on, off in pairs if on.get(key) is not None and off.get(key)])


def plot_results(results: Results, folder: Path) -> list[Path]:
    """The headline pictures of the workload tables that ran; returns the files written."""
    written = []
    fanout = [w for w in ("W1", "W2") if w in results]
    peers = [t for t in TARGET_NAMES if any(t in results[w] for w in fanout)]
    if fanout and peers:
        written.append(bar_chart(
            folder / "cpu-per-delivery.svg", "Server CPU per delivery (lower is better)", fanout,
            {TARGET_NAMES[t]: [_figure(results, w, t, "cpu_us_per_delivery") for w in fanout] for t in peers},
            "µs per delivery"))
        groups = [(w, q) for w in fanout for q in ("p50", "p99")]
        written.append(bar_chart(
            folder / "latency.svg", "Paced broadcast latency, all clients (lower is better)",
            [f"{w} {q}" for w, q in groups],
            {TARGET_NAMES[t]: [_figure(results, w, t, f"{q}_ms") for w, q in groups] for t in peers}, "ms"))
    costs = [c for c in COST_BARS if c[0] in results]
    if costs:
        written.append(bar_chart(
            folder / "cost-of-guarantees.svg", "Cost of each guarantee: on ÷ off, same run",
            [label for _w, _k, label, _g in costs],
            {"on ÷ off": [_ratios(results, w, k) for w, k, _l, _g in costs]}, "ratio",
            goals=[g for _w, _k, _l, g in costs], reference=1.0))
    return written
