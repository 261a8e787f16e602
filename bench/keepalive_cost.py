# ruff: noqa: RUF001, RUF002  (the report is typeset: multiplication signs)
"""What keepalive costs an idle server (issue 28 goal 2): CPU per second per 10k idle
connections at Sanic's default interval, scaled from a short interval.

``python -m bench.keepalive_cost [--connections 10000] [--interval 1] [--window 10] [--runs 3]``

Each run probes the sanic-wsns bench app twice, in a fresh process each (keepalive off,
then on with ``WEBSOCKET_PING_INTERVAL`` = ``WEBSOCKET_PING_TIMEOUT`` = ``interval``),
with ``connections`` idle ``websockets`` clients (which answer pings) in another process,
and reads the server process's CPU time over ``window`` seconds once every client has
been pinged. The sweep runs every ``interval / 2`` and pings each client every
``interval``, so its cost per second is proportional to ``1 / interval``: the figure at
Sanic's default 20 s is (CPU per second on − off) × (10,000 / connections) × (interval / 20).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.memory import Clients, serve_sanic_app
from bench.servers import ROOT
from bench.targets.common import raise_fd_limit

DEFAULT_INTERVAL = 20.0  # Sanic's WEBSOCKET_PING_INTERVAL
PER = 10_000
GOAL_MS = 15.0


async def probe(connections: int, interval: float, window: float) -> dict[str, Any]:
    """Server CPU seconds per second with ``connections`` idle clients (``interval`` 0: off)."""
    from bench.memory import _listening_socket
    from bench.targets import wsns_app

    def build(broker: str, count_broker: bool) -> Any:
        app = wsns_app.build(broker, count_broker)
        app.config.WEBSOCKET_PING_INTERVAL = interval or None
        app.config.WEBSOCKET_PING_TIMEOUT = interval or None
        return app

    sock = _listening_socket()
    stop = await serve_sanic_app(sock, build)
    clients = Clients(f"ws://127.0.0.1:{sock.getsockname()[1]}")
    try:
        await clients.command(f"open {connections} idle")
        await asyncio.sleep(max(2 * interval, 1.0))  # every client pinged at least once
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(window)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        return {"connections": connections, "interval": interval, "cpu_per_second": cpu / wall}
    finally:
        await clients.command("close")
        clients.stop()
        await stop()
        sock.close()


def run_probe(connections: int, interval: float, window: float) -> dict[str, Any]:
    """``probe`` in a fresh process (uvloop, as the targets run)."""
    done = subprocess.run([sys.executable, "-m", "bench.keepalive_cost", "--probe", "--connections",
                           str(connections), "--interval", str(interval), "--window", str(window)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"keepalive probe failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def run_section(quick: bool) -> dict[str, Any]:
    """``bench.run``'s section: 10,000 connections at a 1 s interval (quick: 30, briefly)."""
    return run_keepalive(30, 0.5, 1.0, 1) if quick else run_keepalive(PER, 1.0, 10.0, 3)


def run_keepalive(connections: int, interval: float, window: float, runs: int) -> dict[str, Any]:
    """Off then on, ``runs`` times (interleaved); the section's figures (JSON)."""
    results: dict[str, list[float]] = {"off": [], "on": []}
    for run in range(runs):
        for variant, seconds in (("off", 0.0), ("on", interval)):
            figures = run_probe(connections, seconds, window)
            results[variant].append(figures["cpu_per_second"])
            print(f"keepalive run {run + 1}/{runs} {variant}: {json.dumps(figures)}",
                  file=sys.stderr, flush=True)
    scale = PER / connections * interval / DEFAULT_INTERVAL * 1000
    scaled = [(on - off) * scale for on, off in zip(results["on"], results["off"], strict=True)]
    return {"connections": connections, "interval": interval, "window": window, "runs": runs,
            "results": results, "ms_per_second_per_10k": scaled}


def render(figures: dict[str, Any]) -> list[str]:
    """The section's markdown: the scaled figure against the goal, and how it was taken."""
    scaled = figures["ms_per_second_per_10k"]
    median = statistics.median(scaled)
    on = [1000 * x for x in figures["results"]["on"]]
    off = [1000 * x for x in figures["results"]["off"]]
    verdict = "**met**" if median <= GOAL_MS else "**not met**"
    return [
        "## Keepalive on idle connections (issue 28 goal 2)",
        "",
        f"{figures['connections']:,} idle connections to the sanic-wsns bench app, clients "
        f"(`websockets`, answering pings) in another process; keepalive on with "
        f"`WEBSOCKET_PING_INTERVAL` = `WEBSOCKET_PING_TIMEOUT` = {figures['interval']:g} s, against "
        f"off; server CPU read over {figures['window']:g} s, median of {figures['runs']} "
        "(min–max). One sweep pings every client (`keepalive.KeepaliveSweep`); pongs are read in "
        "place (`FrameSink.data_received`): no task per ping or pong.",
        "",
        "| figure | observed | goal | verdict |",
        "| --- | --- | --- | --- |",
        f"| server CPU, keepalive off (ms/s) | {_spread(off)} | – | reported |",
        f"| server CPU, keepalive on (ms/s) | {_spread(on)} | – | reported |",
        f"| keepalive CPU per second per 10k idle connections at {DEFAULT_INTERVAL:g} s (ms) | "
        f"{_spread(scaled)} | ≤ {GOAL_MS:g} | {verdict} |",
        "",
        f"Scaled as (on − off) × 10,000 / connections × {figures['interval']:g} s / "
        f"{DEFAULT_INTERVAL:g} s: the sweep runs every interval / 2 and pings each client every "
        "interval, so its cost per second is proportional to 1 / interval.",
    ]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def plot(figures: dict[str, Any], folder: Path) -> list[Path]:
    """No plot: the table says it all."""
    return []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raise_fd_limit()
    if args.probe:
        import uvloop

        print(json.dumps(uvloop.run(probe(args.connections, args.interval, args.window))))
        return
    figures = run_keepalive(args.connections, args.interval, args.window, args.runs)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    print("\n".join(render(figures)))


if __name__ == "__main__":
    main()
