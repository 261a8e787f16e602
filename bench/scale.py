"""The scale curve: sanic-wsns from 1,000 to 19,000 idle connections on one instance, from
one to four instances on one Redis, and (``--moonshot``) 100,000 connections on this box.

``python -m bench.scale [--quick] [--moonshot]`` writes ``bench/SCALE.md`` and its plots
(``bench/plots/scale-*.svg``; a ``--quick`` run writes them under ``bench/results/``
instead); ``run_scale(quick)`` and ``scale_section(results)`` are the same for
``bench.run``. Raw figures go to ``bench/results/scale.json`` (git-ignored).

Every step starts fresh processes: the sanic-wsns bench target (one or more instances, a
private redis-server when there is more than one), and load generators
(``bench.scale_loadgen``), each holding at most ``PER_LOADGEN`` connections (a process may
hold 20,000 open files) from a loopback address of its own. A step has three stages, each
sampled from ``/proc`` for every server process at its start and end:

* **open**: every client connects and is admitted (handshake, authorize, join); RSS per
  connection is the servers' RSS after minus before, over the connections;
* **broadcast**: one sender per namespace sends ``rounds`` broadcasts, one at a time, to
  its namespace: every connection gets every round of its namespace once. CPU per
  delivery is the servers' CPU in the stage over the deliveries. With several instances,
  namespace *k*'s sender is on instance *k* mod *n* and each namespace has clients on
  every instance, so every broadcast crosses Redis;
* **idle** (moonshot only): nothing but the server's keepalive pings, for long enough to
  ping every connection at least once.

The load generators count broadcasts without decoding them and are sampled like the
servers: their CPU per delivery, and the busiest one's CPU over the broadcast stage, are
figures of every step. The moonshot runs twice, the second time with one generator more
(``one_more_loadgen``): if the time to the last delivery does not change, the generators
were not what bounded it. ``--moonshot-connections N`` runs it at a reduced size (a busy
machine); ``--moonshot-only`` skips the curves (and writes under ``bench/results/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.kernel_profile import start_perf, stop_perf
from bench.procstat import Sample, sample, write_syscalls
from bench.profile import summarize
from bench.scale_report import scale_section, write_plots
from bench.servers import ROOT, START_TIMEOUT, redis_url, start_redis, start_target
from tests.support.processes import ServerProcess

RESULTS = ROOT / "bench" / "results"
#: Where a full run's report and plots go (committed); a ``--quick`` run's stay in ``RESULTS``.
REPORT_DIR = ROOT / "bench"
#: Connections per load-generator process: below the 20,000 open files a process may hold.
PER_LOADGEN = 19_000
#: Handshakes in flight per load generator.
CONCURRENCY = 100
#: Sanic's default ``WEBSOCKET_PING_INTERVAL`` (the bench target keeps it): an idle stage
#: this long pings every connection at least once.
PING_INTERVAL = 20.0


@dataclass(frozen=True)
class Step:
    """One point of a curve."""

    curve: str  # "connections", "instances" or "moonshot"
    label: str
    instances: int
    connections: int
    namespaces: int
    rounds: int
    idle_seconds: float = 0.0
    #: Load-generator processes; 0: as few as hold the connections (``PER_LOADGEN`` each).
    loadgens: int = 0

    @property
    def redis(self) -> bool:
        return self.instances > 1 or self.curve == "instances"


FULL = [
    Step("connections", "1k / 10 ns", 1, 1_000, 10, 40),
    Step("connections", "5k / 10 ns", 1, 5_000, 10, 10),
    Step("connections", "19k / 10 ns", 1, 19_000, 10, 4),
    Step("connections", "19k / 2,000 ns", 1, 19_000, 2_000, 4),
    Step("instances", "1 instance", 1, 8_000, 10, 8),
    Step("instances", "2 instances", 2, 8_000, 10, 8),
    Step("instances", "4 instances", 4, 8_000, 10, 8),
]
QUICK = [
    Step("connections", "100 / 10 ns", 1, 100, 10, 4),
    Step("connections", "300 / 10 ns", 1, 300, 10, 4),
    Step("connections", "300 / 60 ns", 1, 300, 60, 4),
    Step("instances", "1 instance", 1, 200, 10, 4),
    Step("instances", "2 instances", 2, 200, 10, 4),
]
MOONSHOT = Step("moonshot", "100k / 6 instances", 6, 100_000, 1, 1, idle_seconds=2 * PING_INTERVAL + 5)
QUICK_MOONSHOT = Step("moonshot", "600 / 3 instances", 3, 600, 1, 1, idle_seconds=3.0)


def one_more_loadgen(step: Step) -> Step:
    """``step`` again with one load generator more and no idle stage: if the time to the
    last delivery does not change, the generators were not what bounded it."""
    loadgens = (step.loadgens or math.ceil(step.connections / PER_LOADGEN)) + 1
    return replace(step, label=f"{step.label}, {loadgens} load generators", idle_seconds=0.0,
                   loadgens=loadgens)


def moonshot_steps(quick: bool, connections: int | None = None) -> list[Step]:
    """The moonshot (``connections`` instead of its 100,000 when given: a reduced run on a
    busy machine), then the same with one load generator more."""
    step = QUICK_MOONSHOT if quick else MOONSHOT
    if connections is not None:
        step = replace(step, label=f"{connections:,} / {step.instances} instances", connections=connections)
    return [step, one_more_loadgen(step)]


# -- running one step ----------------------------------------------------------------------


def plan(step: Step) -> tuple[list[list[Any]], list[int]]:
    """Client *j* goes to instance *j* mod *n*, namespace *j* mod *namespaces*; the sender of
    namespace *k* is client *k* (so on instance *k* mod *n*)."""
    clients = [[j % step.instances, f"scale-{j % step.namespaces}"] for j in range(step.connections)]
    return clients, list(range(min(step.namespaces, step.connections)))


def clients_per_instance(step: Step) -> list[int]:
    clients, _ = plan(step)
    return [sum(1 for url, _ in clients if url == i) for i in range(step.instances)]


class Loadgens:
    """Several ``bench.scale_loadgen`` processes (or ``command``'s: ``bench.storm`` has
    its own) driven in lock-step: a stage starts when all are ready (the servers are sampled
    then) and ends when all have ended."""

    def __init__(self, stack: ExitStack, specs: list[dict[str, Any]],
                 command: tuple[str, ...] = ("-m", "bench.scale_loadgen")):
        self.lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
        self.processes: list[subprocess.Popen[str]] = []
        for i, spec in enumerate(specs):
            process = subprocess.Popen([sys.executable, *command], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            stack.callback(_stop, process)
            self.processes.append(process)
            threading.Thread(target=self._pump, args=(i, process), daemon=True).start()
            self._say(process, json.dumps(spec))
        self.errors: list[str] = []

    def _pump(self, i: int, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put((i, line))
        self.lines.put((i, None))

    @staticmethod
    def _say(process: subprocess.Popen[str], line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()

    def wait_all(self, kind: str, deadline: float) -> list[dict[str, Any]]:
        """The next ``kind`` event of every process (``ready``, ``end`` or ``result``)."""
        got: dict[int, dict[str, Any]] = {}
        while len(got) < len(self.processes):
            try:
                i, line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"load generators did not all reach {kind} in time") from None
            if line is None:
                if i in got and kind == "result":
                    continue  # it said its last word, then exited
                raise RuntimeError(f"load generator {i} exited with {self.processes[i].wait()} "
                                   f"before {kind}; errors: {self.errors[:3]}")
            event = json.loads(line)
            if event["event"] == "error":
                self.errors.append(event["error"])
            elif event["event"] == kind:
                got[i] = event
        return [got[i] for i in range(len(self.processes))]

    def go(self) -> None:
        self.tell("go")

    def tell(self, line: str) -> None:
        """Say ``line`` to every process."""
        for process in self.processes:
            self._say(process, line)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(30)


def run_step(step: Step, timeout: float = 900.0, profile: Path | None = None,
             perf: Path | None = None) -> dict[str, Any]:
    """Start the step's processes, run its stages, and return its figures. With
    ``profile``, py-spy samples instance 0 through the broadcast stage into that file
    (collapsed stacks, as ``bench.profile`` reads them); with ``perf``, ``perf record``
    does (``bench.kernel_profile`` reads it)."""
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with ExitStack() as stack:
        redis = start_redis(stack, logs) if step.redis else None
        broker = redis_url(redis) if redis is not None else ""
        servers = [start_target(stack, "wsns", logs, broker=broker, label=f"-scale{i}")
                   for i in range(step.instances)]
        for server in servers:
            server.wait_ready(START_TIMEOUT)
        clients, senders = plan(step)
        loadgens = step.loadgens or math.ceil(step.connections / PER_LOADGEN)
        chunk = math.ceil(step.connections / loadgens)
        specs = [{"urls": [s.ws("") for s in servers], "clients": clients[i * chunk:(i + 1) * chunk],
                  "senders": [j - i * chunk for j in senders if i * chunk <= j < (i + 1) * chunk],
                  "rounds": step.rounds, "source": f"127.0.0.{2 + i}", "concurrency": CONCURRENCY,
                  "idle_seconds": step.idle_seconds, "timeout": max(60.0, timeout / 3)}
                 for i in range(loadgens)]
        group = Loadgens(stack, specs)
        pids = [s.pid for s in servers]
        generators = [p.pid for p in group.processes]
        watched = pids + ([redis.pid] if redis is not None else []) + generators
        stages: dict[str, tuple[dict[int, Sample], dict[int, Sample], float]] = {}
        writes: dict[str, int] = {}  # the servers' write syscalls in each stage
        for stage in ("open", "broadcast") + (("idle",) if step.idle_seconds else ()):
            group.wait_all("ready", deadline)
            before = {pid: sample(pid) for pid in watched}
            writes_before = sum(write_syscalls(pid) for pid in pids)
            sampler = _py_spy(servers[0].pid, profile) if profile and stage == "broadcast" else None
            recorder = start_perf(servers[0].pid, perf) if perf and stage == "broadcast" else None
            started = time.perf_counter()
            group.go()
            group.wait_all("end", deadline)
            seconds = time.perf_counter() - started
            stages[stage] = (before, {pid: sample(pid) for pid in watched}, seconds)
            writes[stage] = sum(write_syscalls(pid) for pid in pids) - writes_before
            if sampler is not None:
                sampler.send_signal(signal.SIGINT)
                sampler.wait(60)
            if recorder is not None:
                stop_perf(recorder)
            if stage == "open":
                loadgen_rss = sum(sample(p.pid).rss for p in group.processes)
            group.go()
        results = group.wait_all("result", deadline)
        out = figures(step, servers, redis, stages, results, loadgen_rss, group.errors)
        out["writes_per_delivery"] = writes["broadcast"] / out["deliveries"] if out["deliveries"] else None
        return {**out, **loadgen_figures(stages, generators, out["deliveries"])}


def _py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    sampler = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                                "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches before the stage starts (a bound, not a synchronisation)
    return sampler


def figures(step: Step, servers: list[ServerProcess], redis: ServerProcess | None,
            stages: dict[str, tuple[dict[int, Sample], dict[int, Sample], float]],
            results: list[dict[str, Any]], loadgen_rss: int, errors: list[str]) -> dict[str, Any]:
    def cpu(stage: str, pid: int, part: str = "cpu") -> float:
        before, after, _ = stages[stage]
        return getattr(after[pid], part) - getattr(before[pid], part)

    pids = [s.pid for s in servers]
    open_before, open_after, open_seconds = stages["open"]
    broadcast_cpu = [cpu("broadcast", p) for p in pids]
    connections = sum(r["open"]["connections"] for r in results)
    deliveries = sum(r["broadcast"]["deliveries"] for r in results)
    expected = sum(r["broadcast"]["expected"] for r in results)
    first = min(r["broadcast"]["first_send_ns"] for r in results if r["broadcast"]["first_send_ns"])
    last = max(r["broadcast"]["last_delivery_ns"] for r in results)
    out: dict[str, Any] = {
        **asdict(step),
        "connections_held": connections,
        "open_seconds": open_seconds,
        "opens_per_s": connections / open_seconds,
        "handshake_retries": sum(r["open"]["retries"] for r in results),
        "cpu_us_per_open": sum(cpu("open", p) for p in pids) * 1e6 / connections,
        "rss_kib_per_connection": sum(open_after[p].rss - open_before[p].rss for p in pids)
        / 1024 / connections,
        "servers_rss_mib": sum(open_after[p].rss for p in pids) / 2**20,
        "loadgens_rss_mib": loadgen_rss / 2**20,
        "deliveries": deliveries,
        "lost": expected - deliveries,
        "broadcast_seconds": stages["broadcast"][2],
        "last_delivery_ms": (last - first) / 1e6,
        "cpu_us_per_delivery": _per(sum(broadcast_cpu), deliveries),
        "user_us_per_delivery": _per(sum(cpu("broadcast", p, "user") for p in pids), deliveries),
        # Each instance's CPU over the deliveries it made (its own clients' share).
        "instance_cpu_us_per_delivery": [
            _per(c, n * step.rounds) for c, n in zip(broadcast_cpu, clients_per_instance(step), strict=True)],
        "errors": errors[:5],
    }
    if redis is not None:
        out["redis_cpu_us_per_delivery"] = _per(cpu("broadcast", redis.pid), deliveries)
        out["redis_rss_mib"] = stages["broadcast"][1][redis.pid].rss / 2**20
    if "idle" in stages:
        idle_seconds = stages["idle"][2]
        idle_cpu = sum(cpu("idle", p) for p in pids)
        out["idle_seconds"] = idle_seconds
        out["keepalive_cpu_ms_per_s_per_10k"] = idle_cpu * 1e3 / idle_seconds / (connections / 10_000)
        out["still_open_after_idle"] = sum(r["idle"]["open"] for r in results)
    return out


def loadgen_figures(stages: dict[str, tuple[dict[int, Sample], dict[int, Sample], float]],
                    generators: list[int], deliveries: int) -> dict[str, Any]:
    """What the load generators spent in the broadcast stage: their CPU per delivery, and
    the busiest one's CPU over the stage's length (near 1.0, it was saturated and may have
    been what bounded the time to the last delivery)."""
    before, after, seconds = stages["broadcast"]
    spent = [after[p].cpu - before[p].cpu for p in generators]
    return {"loadgens": len(generators),
            "loadgens_cpu_us_per_delivery": _per(sum(spent), deliveries),
            "busiest_loadgen_cpu_share": max(spent) / seconds if seconds else None}


def _per(cpu_seconds: float, count: int) -> float | None:
    """Microseconds of CPU per item."""
    return cpu_seconds * 1e6 / count if count else None


def run_scale(quick: bool, moonshot: bool = False, moonshot_connections: int | None = None,
              curves: bool = True) -> dict[str, Any]:
    """Every step of the curves (unless not ``curves``) and the moonshot when asked (with
    ``moonshot_connections`` instead of its full size); a failed step is reported as its
    error, not raised, so the other steps still run."""
    steps = list(QUICK if quick else FULL) if curves else []
    if moonshot:
        steps += moonshot_steps(quick, moonshot_connections)
    started = time.monotonic()
    out: dict[str, Any] = {"quick": quick, "started": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
                           "steps": []}
    for step in steps:
        began = time.monotonic()
        try:
            result = run_step(step, timeout=2400.0 if step.curve == "moonshot" else 900.0)
        except Exception as exc:
            result = {**asdict(step), "error": f"{type(exc).__name__}: {exc}"}
        print(f"scale {step.curve:11s} {step.label:22s} {time.monotonic() - began:6.1f}s "
              f"{json.dumps(result)[:200]}", file=sys.stderr, flush=True)
        out["steps"].append(result)
    out["seconds"] = time.monotonic() - started
    return out


def write_report(results: dict[str, Any]) -> Path:
    """``SCALE.md`` and its plots (``plots/scale-*.svg`` beside it), from ``results``: in
    ``bench/`` after a full run, in ``bench/results/`` after a quick one or one without the
    curves (``--moonshot-only``: it must not replace the committed curves)."""
    curves = any(s["curve"] != "moonshot" for s in results["steps"])
    directory = REPORT_DIR if curves and not results["quick"] else RESULTS
    write_plots(results, directory / "plots")
    header = [
        "# Scale", "",
        f"Generated by `python -m bench.scale{' --quick' if results['quick'] else ''}"
        f"{' --moonshot' if any(s['curve'] == 'moonshot' for s in results['steps']) else ''}` "
        f"on {results['started']} UTC in {results['seconds'] / 60:.1f} min, on a shared 2-core machine "
        "(wall-clock figures such as opens/s are noisy; CPU figures are the servers' own).", "", ""]
    body = scale_section(results, "plots").replace("## Scale\n\n", "", 1)
    report = directory / "SCALE.md"
    report.write_text("\n".join(header) + body + "\n")
    return report


def profile_step(label: str, quick: bool) -> None:
    steps = {s.label: s for s in [*(QUICK if quick else FULL), *moonshot_steps(quick)]}
    if label not in steps:
        raise SystemExit(f"no step {label!r}; steps: {', '.join(steps)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    collapsed = RESULTS / "profile-scale.txt"
    figures = run_step(steps[label], profile=collapsed)
    print(f"{label}: {figures.get('cpu_us_per_delivery')} µs CPU per delivery; "
          f"{collapsed.relative_to(ROOT)}\n")
    print(summarize(collapsed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, seconds)")
    parser.add_argument("--moonshot", action="store_true", help="also 100,000 connections on 6 instances")
    parser.add_argument("--moonshot-connections", type=int, default=None, metavar="N",
                        help="the moonshot with N connections (a reduced run while the machine is busy)")
    parser.add_argument("--moonshot-only", action="store_true", help="skip the curves")
    parser.add_argument("--profile", metavar="LABEL",
                        help="run only the step with this label (e.g. '19k / 2,000 ns') and print where "
                             "instance 0 spends the broadcast stage (py-spy)")
    args = parser.parse_args()
    if args.profile:
        profile_step(args.profile, args.quick)
        return
    results = run_scale(args.quick, args.moonshot or args.moonshot_only, args.moonshot_connections,
                        curves=not args.moonshot_only)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=1))
    report = write_report(results)
    print(f"{report.relative_to(ROOT)} written; the run took {results['seconds']:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
