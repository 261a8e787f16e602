"""Parts of the benchmark with a shape of their own (the scale curve): run once after the
workload cells, rendered and plotted after the workload tables. ``bench.run`` runs them,
``bench.report`` renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import cluster_curve, compression, keepalive_cost, kernel_profile, memory, sse_vs_ws, storm
from bench.request_keys import render as request_keys_section
from bench.request_keys import run_request_keys
from bench.scale import run_scale
from bench.scale_report import moonshot_section, scale_section, write_plots
from bench.standalone import no_plot
from bench.workloads import Sizes
from tests.support.processes import ServerProcess


@dataclass(frozen=True)
class Section:
    """A part of the benchmark with a shape of its own (e.g. the scale curve): run once
    after the workload cells on the run's redis-server, then rendered and plotted after
    the workload tables. Its figures must be JSON, so ``--render`` can redraw them."""

    name: str
    run: Callable[[Sizes, bool, ServerProcess], dict[str, Any]]  # (sizes, quick, redis) -> figures
    render: Callable[[dict[str, Any]], list[str]]  # figures -> markdown lines
    plot: Callable[[dict[str, Any], Path], list[Path]]  # figures, plot folder -> SVGs written


#: Appended to by the modules that bring a section; run in this order.
SECTIONS: list[Section] = [
    # The scale curve (bench/scale.py brings its own servers, load generators and Redis).
    Section("scale", lambda sizes, quick, redis: run_scale(quick), lambda figures: [
        *scale_section(figures).splitlines(), "",
        "The moonshot (100,000 idle connections on 6 instances, then one broadcast to all) is its own "
        "section below; `python -m bench.scale --moonshot` runs both into [SCALE.md](SCALE.md)."],
        write_plots),
    # One broadcast at a time, below Python: perf on the server (bench/kernel_profile.py).
    Section("kernel", lambda sizes, quick, redis: kernel_profile.run_section(quick), kernel_profile.render,
            no_plot),
    # One broadcast to 100k connections on 6 instances, then with one load generator more.
    Section("moonshot", lambda sizes, quick, redis: run_scale(quick, moonshot=True, curves=False),
            moonshot_section, no_plot),
    # RSS per idle connection against a bare websockets server (bench/memory.py's probes).
    Section("memory", lambda sizes, quick, redis: memory.run_section(quick), memory.render, no_plot),
    # permessage-deflate off vs on (bench/compression.py brings its own servers and clients).
    Section("compression", lambda sizes, quick, redis: compression.run_compression(sizes, quick),
            compression.render, compression.plot),
    # Keepalive's CPU on idle connections (bench/keepalive_cost.py brings its own servers and clients).
    Section("keepalive", lambda sizes, quick, redis: keepalive_cost.run_section(quick),
            keepalive_cost.render, keepalive_cost.plot),
    # SSE vs WebSocket on W1's shape (bench/sse_vs_ws.py brings its own servers and clients).
    Section("sse", lambda sizes, quick, redis: sse_vs_ws.run_sse(sizes, quick),
            sse_vs_ws.render, sse_vs_ws.plot),
    # Keyed vs unkeyed requests (bench/request_keys.py: its own servers, the run's Redis).
    Section("request_keys", lambda sizes, quick, redis: run_request_keys(quick, redis), request_keys_section,
            lambda figures, folder: []),
    # One Redis vs a 3-master cluster: the rate where p99 crosses 50 ms (bench/cluster_curve.py).
    Section("cluster", lambda sizes, quick, redis: cluster_curve.run_curve(quick),
            cluster_curve.render, cluster_curve.plot),
    # A reconnect storm, WSNS_OPEN_RATE off and on (bench/storm.py brings its own processes).
    Section("storm", lambda sizes, quick, redis: storm.run_storm(quick), storm.render, storm.plot),
]

