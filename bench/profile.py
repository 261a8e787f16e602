"""Profile one target's server under a workload's measured stage with py-spy.

``python -m bench.profile [--target wsns] [--workload W1|W2|W3|W4] [--features history] [--quick]``
writes, under ``bench/results/`` (git-ignored), the collapsed stacks
(``profile-<workload>-<target>[-<features>].txt``, for speedscope or flamegraph.pl), a flame
graph (``….svg``) and prints where the server's Python time goes: by package (ours, Sanic,
websockets, asyncio/uvloop, ...) and the top functions by own time. Under W2 (two
instances on a private redis-server) the profiled server is instance A, the sender's;
``--features`` switches guarantees on (``bench.targets.common.FEATURES``), to see what
one costs.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.servers import ROOT, redis_url, start_redis, start_target
from bench.targets.common import FEATURES
from bench.workloads import FULL, QUICK, Sizes, churn_spec, fanout_spec, idle_spec, run_loadgen
from tests.support.processes import ServerProcess

RESULTS = ROOT / "bench" / "results"
PACKAGES = ("sanic_wsns", "sanic_routing", "sanic", "websockets", "uvloop", "asyncio", "socketio",
            "engineio", "uvicorn", "msgspec", "json", "bench")


#: workload -> (load generator spec, the stage to sample)
SPECS: dict[str, tuple[Callable[[str, list[str], Sizes], dict[str, Any]], str]] = {
    "W1": (fanout_spec, "windowed"),
    "W2": (fanout_spec, "windowed"),
    "W3": (idle_spec, "open"),
    "W4": (churn_spec, "churn"),
}


def package_of(frame: str) -> str:
    """The package a py-spy frame ``func (path/to/file.py:line)`` belongs to."""
    path = "/" + frame[frame.rfind("(") + 1:]
    for name in PACKAGES:
        if f"/{name}/" in path or f"/{name}.py" in path:
            return name
    return "other"


def summarize(collapsed: Path, top: int = 25) -> str:
    """Own time by package and by function, from py-spy's collapsed (``raw``) output."""
    own_by_package: collections.Counter[str] = collections.Counter()
    own_by_function: collections.Counter[str] = collections.Counter()
    through: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        leaf = stack.split(";")[-1]
        total += count
        own_by_package[package_of(leaf)] += count
        own_by_function[leaf] += count
        frames = stack.split(";")
        if any("sanic_wsns/" in f for f in frames):
            through["sanic_wsns"] += count
        if any(f.startswith("build.<locals>.") for f in frames):  # the target's own handlers
            through["bench"] += count
    lines = [f"{total} samples; stacks through sanic_wsns (our code and what it calls): "
             f"{100 * through['sanic_wsns'] / total:.1f}%, through the bench app's own handlers: "
             f"{100 * through['bench'] / total:.1f}%",
             "(py-spy samples Python frames: time inside C code, such as uvloop's send() syscall,",
             "is billed to the Python line that called it)", "", "own time by package:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own_by_package.most_common()]
    lines += ["", f"top {top} functions by own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own_by_function.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", default="wsns", choices=["wsns", "raw", "socketio"])
    parser.add_argument("--workload", default="W1", choices=list(SPECS))
    parser.add_argument("--features", default="", help=f"comma-separated, of: {', '.join(FEATURES)}")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="how many functions to list")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    sizes = QUICK if args.quick else FULL
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    features = [f for f in args.features.split(",") if f]
    name = "-".join(["profile", args.workload, args.target, *features])
    collapsed, svg = RESULTS / f"{name}.txt", RESULTS / f"{name}.svg"
    make_spec, measured = SPECS[args.workload]
    with ExitStack() as stack:
        servers = _servers(stack, args.workload, args.target, features, logs)
        server = servers[0]
        samplers: list[subprocess.Popen[bytes]] = []

        def on_stage(event: str, stage: str) -> None:
            if stage != measured:
                return
            if event == "ready":
                for out, fmt in ((collapsed, "raw"), (svg, "flamegraph")):
                    samplers.append(subprocess.Popen(
                        [py_spy, "record", "--pid", str(server.pid), "--rate", "250",
                         "--format", fmt, "--output", str(out)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            else:
                for sampler in samplers:
                    sampler.send_signal(signal.SIGINT)
                for sampler in samplers:
                    sampler.wait(30)

        run_loadgen(make_spec(args.target, [s.ws("") for s in servers], sizes), servers, 300, on_stage)
    print(f"{collapsed.relative_to(ROOT)}, {svg.relative_to(ROOT)}\n")
    print(summarize(collapsed, args.top))


def _servers(stack: ExitStack, workload: str, target: str, features: list[str],
             logs: Path) -> list[ServerProcess]:
    """The workload's servers, the profiled one first (W2: instance A, then B)."""
    if workload != "W2":
        return [start_target(stack, target, logs, features=features)]
    broker = redis_url(start_redis(stack, logs))
    return [start_target(stack, target, logs, broker=broker, label=label, features=features)
            for label in ("-a", "-b")]


if __name__ == "__main__":
    main()
