"""Redis Cluster against one Redis (issue 28 goal 7): the broadcast rate at which the p99
latency of a delivery crosses 50 ms.

``python -m bench.cluster_curve [--quick] [--json PATH]`` (also a section of ``python -m
bench.run``). For each backend, fresh processes: the backend (one redis-server with plain
pub/sub, or a 3-master Redis Cluster, no replicas, where sanic-wsns always uses sharded
pub/sub), ``instances`` sanic-wsns bench targets on it, and the clients in this process.
The same namespaces on both: ``namespaces`` rooms, each with one sender on instance 0 and
``receivers`` receivers on the other instances, so every delivery measured crossed the
backend (a channel per room: in the cluster they hash to all three masters).

The rate climbs (``rates``, broadcasts per second over all rooms, round-robin, each paced
for ``seconds``); at each step: p50/p99 from the send to the arrival of the bytes at the
receiving socket (``bench.loadgen.StampedConnection``), the rate actually achieved, the
servers', the backend's and this client process's CPU (``/proc``). A step is *over* when its
p99 is over ``P99_LIMIT_MS`` (or it lost deliveries); the climb stops after ``OVER_IN_A_ROW``
steps over in a row, so one step disturbed by the shared machine does not end it, and the
crossing is the first rate of the last run of steps over. An unmeasured warm-up at the first
rate comes first (the instances' connections to every master, lazily built state). The
clients' own CPU is reported so a reader can see when they, and not the servers, were the
limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.loadgen import DIALECTS, Client, Harness, close_all, message, percentile
from bench.procstat import sample
from bench.servers import ROOT, START_TIMEOUT, redis_url, start_redis, start_target
from bench.targets.common import raise_fd_limit
from tests.support.processes import ServerProcess
from tests.support.redis_servers import RedisCluster

BACKENDS = ("one Redis", "3-master cluster")
#: The latency the curve is about.
P99_LIMIT_MS = 50.0
#: Steps over the limit in a row that end the climb.
OVER_IN_A_ROW = 2
#: Seconds of the unmeasured warm-up.
WARM_UP = 1.0
#: Seconds the last deliveries of a step may take after its last send.
DRAIN_TIMEOUT = 15.0
CONCURRENCY = 50


@dataclass(frozen=True)
class CurveSizes:
    instances: int
    namespaces: int
    receivers: int  # per namespace, on the instances other than the sender's
    rates: tuple[int, ...]  # broadcasts per second, over all namespaces
    seconds: float  # per step


FULL = CurveSizes(instances=3, namespaces=30, receivers=4,
                  rates=(100, 200, 400, 700, 1_000, 1_500, 2_000, 3_000, 4_000, 6_000, 8_000), seconds=5.0)
QUICK = CurveSizes(instances=2, namespaces=6, receivers=2, rates=(20, 40), seconds=1.0)


@contextmanager
def backend(name: str, logs: Path) -> Iterator[tuple[str, list[int]]]:
    """The broker URL of a fresh backend and the pids of its redis-servers."""
    with ExitStack() as stack:
        if name == "one Redis":
            redis = start_redis(stack, logs)
            yield redis_url(redis), [redis.pid]
        else:
            cluster = RedisCluster(masters=3, replicas=0)
            stack.callback(cluster.close)
            cluster.start()
            yield cluster.url, [node.server.pid for node in cluster.nodes]


class Step:
    """One rate: every delivery's latency, and when the last expected one arrived."""

    def __init__(self, tag: str, expected: int):
        self.tag = tag
        self.expected = expected
        self.latencies: list[int] = []
        self.done = asyncio.Event()

    def got(self, client: Client, data: dict[str, Any]) -> None:
        if data.get("p") != self.tag:
            return
        self.latencies.append(client.ws.received_ns - data["t"])
        if len(self.latencies) >= self.expected:
            self.done.set()


async def climb(urls: list[str], sizes: CurveSizes, pids: list[int]) -> list[dict[str, Any]]:
    """Open the rooms' clients, then every rate in turn until p99 crosses the limit."""
    harness = Harness(DIALECTS["wsns"])
    rooms = [f"cluster-{k}" for k in range(sizes.namespaces)]
    senders = await harness.open_many([(urls[0], room, 0) for room in rooms], CONCURRENCY)
    others = urls[1:]
    plan = [(others[j % len(others)], room, 1 + j % len(others))
            for room in rooms for j in range(sizes.receivers)]
    receivers = await harness.open_many(plan, CONCURRENCY)
    step = Step("", 0)
    harness.on_data = lambda client, data: step.got(client, data) if client.instance else None
    out: list[dict[str, Any]] = []
    try:
        warm_up = max(sizes.namespaces, round(sizes.rates[0] * WARM_UP))
        step = Step("warm-up", warm_up * sizes.receivers)
        await run_rate(step, senders, sizes.rates[0], warm_up, pids)
        for index, rate in enumerate(sizes.rates):
            count = max(sizes.namespaces, round(rate * sizes.seconds))
            step = Step(f"r{index}", count * sizes.receivers)
            out.append(await run_rate(step, senders, rate, count, pids))
            print(f"cluster step {rate}/s: {json.dumps(out[-1])}", file=sys.stderr, flush=True)
            if len(out) >= OVER_IN_A_ROW and all(over(s) for s in out[-OVER_IN_A_ROW:]):
                break
    finally:
        await close_all(senders + receivers)
    return out


async def run_rate(step: Step, senders: list[Client], rate: int, count: int,
                   pids: list[int]) -> dict[str, Any]:
    before = {pid: sample(pid) for pid in pids}
    own_before = time.process_time()
    start = time.perf_counter()
    for seq in range(count):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sender = senders[seq % len(senders)]
        await sender.ws.send(DIALECTS["wsns"].encode(message(step.tag, seq)))
    sent_seconds = time.perf_counter() - start
    with contextlib.suppress(TimeoutError):  # reported as lost deliveries
        await asyncio.wait_for(step.done.wait(), DRAIN_TIMEOUT)
    seconds = time.perf_counter() - start
    cpu = {pid: sample(pid).cpu - before[pid].cpu for pid in pids}
    # The last send is due at (count - 1) / rate: the rate achieved is over that span.
    return {"rate": rate, "achieved_rate": (count - 1) / sent_seconds if count > 1 else None,
            "broadcasts": count, "deliveries": len(step.latencies),
            "lost": step.expected - len(step.latencies),
            "p50_ms": percentile(step.latencies, 50), "p99_ms": percentile(step.latencies, 99),
            "seconds": seconds, "cpu_by_pid": cpu, "client_cpu_s": time.process_time() - own_before}


def over(result: dict[str, Any]) -> bool:
    p99 = result["p99_ms"]
    return bool(result["lost"]) or p99 is None or p99 > P99_LIMIT_MS


def one_backend(name: str, sizes: CurveSizes, logs: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        url, redis_pids = stack.enter_context(backend(name, logs))
        servers: list[ServerProcess] = [start_target(stack, "wsns", logs, broker=url, label=f"-cluster{i}")
                                        for i in range(sizes.instances)]
        for server in servers:
            server.wait_ready(START_TIMEOUT)
        server_pids = [s.pid for s in servers]
        import uvloop

        steps = uvloop.run(climb([s.ws("") for s in servers], sizes, server_pids + redis_pids))
    for result in steps:
        cpu = result.pop("cpu_by_pid")
        result["servers_cpu_s"] = sum(cpu[p] for p in server_pids)
        result["redis_cpu_s"] = sum(cpu[p] for p in redis_pids)
    return {"backend": name, "steps": steps, "crossing": crossing(steps)}


def crossing(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Between which rates p99 went over the limit for good: ``above`` is the first rate of
    the last run of steps over (``None``: the last step was under), ``below`` the step
    before it (``None``: every step was over)."""
    first_over = len(steps)
    while first_over > 0 and over(steps[first_over - 1]):
        first_over -= 1
    return {"below": steps[first_over - 1]["rate"] if first_over > 0 else None,
            "above": steps[first_over]["rate"] if first_over < len(steps) else None}


def run_curve(quick: bool) -> dict[str, Any]:
    """Both backends, one after the other; a failed backend is reported as its error."""
    raise_fd_limit()
    sizes = QUICK if quick else FULL
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    for name in BACKENDS:
        try:
            results.append(one_backend(name, sizes, logs))
        except Exception as exc:
            results.append({"backend": name, "error": f"{type(exc).__name__}: {exc}"})
    return {"quick": quick, "sizes": asdict(sizes), "limit_ms": P99_LIMIT_MS, "backends": results}


# -- the report ------------------------------------------------------------------------------


def _crossing_text(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"error: {result['error']}"
    below, above = result["crossing"]["below"], result["crossing"]["above"]
    if above is None:
        return f"not crossed up to {below:,}/s (the highest rate tried)"
    if below is None:
        return f"already over at {above:,}/s (the lowest rate tried)"
    return f"between {below:,}/s and {above:,}/s"


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render(figures: dict[str, Any]) -> list[str]:
    sizes = figures["sizes"]
    lines = [
        "## Redis Cluster vs one Redis (issue 28 goal 7)", "",
        f"`python -m bench.cluster_curve{' --quick' if figures['quick'] else ''}`: {sizes['instances']} "
        f"sanic-wsns instances, {sizes['namespaces']} namespaces, each with its sender on instance 0 and "
        f"{sizes['receivers']} receivers on the others (every delivery measured crossed the backend); "
        f"after a warm-up, the rate climbs in steps of {sizes['seconds']:g} s until p99 is over "
        f"{figures['limit_ms']:g} ms {OVER_IN_A_ROW} steps in a row; the crossing is the first rate of "
        "that run. "
        "One Redis uses plain pub/sub; the 3-master cluster (no replicas) sharded pub/sub "
        "(`SSUBSCRIBE`/`SPUBLISH`). Latency: send to arrival at the receiving socket. CPU: seconds over the "
        "step, of the servers, of the redis-server(s), and of the clients (this process: when it is near "
        "the step's length, the clients were the limit).", "",
        "| backend | p99 crosses the limit |", "| --- | --- |",
        *(f"| {r['backend']} | {_crossing_text(r)} |" for r in figures["backends"]), "",
        "| backend | rate (/s) | achieved (/s) | p50 (ms) | p99 (ms) | lost | servers' CPU (s) | "
        "Redis CPU (s) | clients' CPU (s) | step (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in figures["backends"]:
        for s in result.get("steps", []):
            lines.append(
                f"| {result['backend']} | {s['rate']:,} | {_fmt(s['achieved_rate'], ',.0f')} | "
                f"{_fmt(s['p50_ms'], '.2f')} | {_fmt(s['p99_ms'], '.2f')} | {s['lost']:,} | "
                f"{s['servers_cpu_s']:.2f} | {s['redis_cpu_s']:.2f} | {s['client_cpu_s']:.2f} | "
                f"{s['seconds']:.1f} |")
    return lines


def plot(figures: dict[str, Any], folder: Path) -> list[Path]:
    """p99 against the rate, one line per backend, and the limit."""
    from bench.plots import plt, save  # matplotlib only when a report is drawn

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for result in figures["backends"]:
        steps = [s for s in result.get("steps", []) if s["p99_ms"] is not None]
        ax.plot([s["rate"] for s in steps], [s["p99_ms"] for s in steps], "o-", label=result["backend"])
    ax.axhline(figures["limit_ms"], color="#aa3333", linestyle="--", label=f"{figures['limit_ms']:g} ms")
    ax.set_xlabel("broadcasts per second (all namespaces)")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return [save(fig, folder / "cluster-curve.svg")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    figures = run_curve(args.quick)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    print("\n".join(render(figures)))


if __name__ == "__main__":
    main()
