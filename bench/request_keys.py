# ruff: noqa: RUF001  (the report is typeset: en dashes, multiplication and minus signs)
"""The cost of a request key (issue 25): server CPU and Redis commands per request, keyed
and unkeyed, side by side.

One sanic-wsns instance on the run's redis-server; clients send ``echo`` requests (answered
by the handler with their data), in two shapes: one client with 16 requests unanswered at
any time, and 16 clients with one each. Every keyed request has a key of its own, so
each one is a first run (claim, handler, answer kept), the path every request key takes.
The variants alternate run by run (which
goes first alternates too), each on a fresh server process, so outside load smears over
both; the ratio is taken run by run, then its median is shown. CPU is the server's own
(``/proc``, utime + stime) and Redis commands come from ``INFO commandstats``, both read
just before and just after the measured requests (after a warm-up), so connecting is
never billed. The client runs in this process: its CPU is not the server's.

``python -m bench.request_keys [--runs 3] [--quick]`` runs it alone and prints the
section; ``python -m bench.run`` runs it as the section ``request_keys``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.figures import spread
from bench.procstat import Sample, sample
from bench.servers import ROOT, START_TIMEOUT, redis_url, start_redis, start_target
from bench.workloads import RedisMeter
from tests.support.processes import ServerProcess

VARIANTS = ("unkeyed", "keyed")
#: Issue 25's goals: a keyed request costs at most 1.2x an unkeyed one's server CPU, and
#: at most one extra Redis round trip.
CPU_GOAL = 1.2
ROUND_TRIP_GOAL = 1
STAGE = "requests"
#: The last answers kept go to Redis up to ``SETTLE_DELAY`` (2 ms) after their replies: a
#: pause before each reading puts them in the stage they belong to.
QUIET = 0.05


@dataclass(frozen=True)
class Plan:
    requests: int  # per shape and variant, over all its clients
    warmup: int  # per client
    runs: int


@dataclass(frozen=True)
class Shape:
    name: str
    label: str
    clients: int
    window: int  # requests unanswered at a time, per client


FULL = Plan(requests=20_000, warmup=200, runs=3)
QUICK = Plan(requests=200, warmup=5, runs=1)
SHAPES = (Shape("pipelined", "1 client, 16 in flight", 1, 16),
          Shape("clients", "16 clients, 1 in flight each", 16, 1))


def run_request_keys(quick: bool, redis: ServerProcess, runs: int | None = None) -> dict[str, Any]:
    """Every run measures both variants on fresh servers; the figures are JSON."""
    plan = QUICK if quick else FULL
    if runs is not None:
        plan = Plan(plan.requests, plan.warmup, runs)
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {
        shape.name: {variant: [] for variant in VARIANTS} for shape in SHAPES}
    load_start = os.getloadavg()
    for run in range(plan.runs):
        order = VARIANTS if run % 2 == 0 else VARIANTS[::-1]
        for shape in SHAPES:
            for variant in order:
                figures[shape.name][variant].append(measure(variant, shape, plan, redis, logs))
                print(f"request_keys run {run + 1}/{plan.runs} {shape.name} {variant}: "
                      f"{json.dumps(figures[shape.name][variant][-1])[:160]}", file=sys.stderr, flush=True)
    return {"plan": asdict(plan), "shapes": [asdict(shape) for shape in SHAPES], "runs": figures,
            "load": [load_start, os.getloadavg()]}


def measure(variant: str, shape: Shape, plan: Plan, redis: ServerProcess, logs: Path) -> dict[str, Any]:
    """One variant in one shape on a fresh server: the figures of its measured requests."""
    with ExitStack() as stack:
        server = start_target(stack, "wsns", logs, broker=redis_url(redis), label=f"-{variant}")
        server.wait_ready(START_TIMEOUT)
        return asyncio.run(_drive(server, redis, variant == "keyed", shape, plan))


async def _drive(server: ServerProcess, redis: ServerProcess, keyed: bool, shape: Shape,
                 plan: Plan) -> dict[str, Any]:
    meter = RedisMeter(redis)
    tag = uuid.uuid4().hex[:8]
    each = plan.requests // shape.clients
    async with asyncio.timeout(300), contextlib.AsyncExitStack() as clients:
        sockets = [await clients.enter_async_context(_joined(server.ws(f"/bench/keys-{tag}")))
                   for _ in range(shape.clients)]

        async def each_client(stage: str) -> None:
            await asyncio.gather(*(_requests(ws, plan.warmup if stage == "w" else each, shape.window,
                                             f"{stage}{tag}-{i}" if keyed else None)
                                   for i, ws in enumerate(sockets)))

        await each_client("w")
        await asyncio.sleep(QUIET)
        meter("ready", STAGE)
        reads = redis_reads(redis)
        before, redis_before = sample(server.pid), sample(redis.pid)
        started = asyncio.get_running_loop().time()
        await each_client("m")
        seconds = asyncio.get_running_loop().time() - started
        await asyncio.sleep(QUIET)
        after, redis_after = sample(server.pid), sample(redis.pid)
        reads = redis_reads(redis) - reads
        meter("end", STAGE)
    return _figures(each * shape.clients, seconds, (before, after), (redis_before, redis_after), meter, reads)


def redis_reads(redis: ServerProcess) -> int:
    """Reads the redis-server has done from its clients' sockets (``INFO stats``
    ``total_reads_processed``), less this reading's own (its HELLO and its INFO): a batch
    pipelined in one write is one read, so the difference of two readings counts round trips."""
    import redis as redis_py

    with redis_py.Redis(port=redis.port, socket_timeout=10) as client:
        return int(client.info("stats")["total_reads_processed"]) - 2


@contextlib.asynccontextmanager
async def _joined(url: str) -> AsyncIterator[ClientConnection]:
    """A client past its ``welcome``."""
    async with connect(url, compression=None) as ws:
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected welcome, got {welcome}")
        yield ws


async def _requests(ws: ClientConnection, count: int, window: int, keys: str | None) -> None:
    """``count`` echo requests, ``window`` unanswered at a time; every answer must be a reply."""
    def frame(n: int) -> str:
        request: dict[str, Any] = {"type": "echo", "data": {"n": n, "pad": "x" * 24}, "id": n}
        if keys is not None:
            request["key"] = f"{keys}-{n}"
        return json.dumps(request)

    sent = 0
    while sent < min(window, count):
        sent += 1
        await ws.send(frame(sent))
    for _ in range(count):
        answer = json.loads(await ws.recv())
        if answer.get("type") != "reply":
            raise RuntimeError(f"expected a reply, got {answer}")
        if sent < count:
            sent += 1
            await ws.send(frame(sent))


def _figures(requests: int, seconds: float, server: tuple[Sample, Sample], redis: tuple[Sample, Sample],
             meter: RedisMeter, reads: int) -> dict[str, Any]:
    (before, after), (redis_before, redis_after) = server, redis
    return {
        "requests": requests,
        "requests_per_s": requests / seconds,
        "cpu_us_per_request": (after.cpu - before.cpu) * 1e6 / requests,
        "user_us_per_request": (after.user - before.user) * 1e6 / requests,
        "system_us_per_request": (after.system - before.system) * 1e6 / requests,
        "redis_cpu_us_per_request": (redis_after.cpu - redis_before.cpu) * 1e6 / requests,
        "redis_commands_per_request": meter.total(STAGE) / requests,
        "redis_reads_per_request": reads / requests,
        "redis_commands": meter.stages[STAGE],
    }


# -- the report ----------------------------------------------------------------------------


def paired(figures: dict[str, Any], shape: str, key: str) -> list[tuple[float, float]]:
    """(keyed, unkeyed) figures of ``key``, run by run."""
    runs = figures["runs"][shape]
    return [(k[key], u[key]) for k, u in zip(runs["keyed"], runs["unkeyed"], strict=False)]


def render(figures: dict[str, Any]) -> list[str]:

    plan, shapes = figures["plan"], [Shape(**shape) for shape in figures["shapes"]]
    start, end = (" / ".join(f"{x:.2f}" for x in load) for load in figures["load"])
    goals, rows = [], []
    for shape in shapes:
        cpu = [k / u for k, u in paired(figures, shape.name, "cpu_us_per_request") if u]
        trips = [k - u for k, u in paired(figures, shape.name, "redis_reads_per_request")]
        extra = [k - u for k, u in paired(figures, shape.name, "redis_commands_per_request")]
        goals += [
            f"| {shape.label} | server CPU per request, keyed ÷ unkeyed | {spread(cpu, '{:.2f}×')} | "
            f"≤ {CPU_GOAL:.2f}× | {_verdict(cpu, CPU_GOAL)} |",
            f"| {shape.label} | Redis round trips (batches Redis read) a key adds per request | "
            f"{spread(trips, '{:.2f}')} | ≤ {ROUND_TRIP_GOAL} | {_verdict(trips, ROUND_TRIP_GOAL)} |",
            f"| {shape.label} | Redis commands a key adds per request | {spread(extra, '{:.2f}')} | – | "
            "reported |",
        ]
    for title, key, fmt in FIGURES:
        cells = [spread([r[key] for r in figures["runs"][shape.name][v]], fmt)
                 for shape in shapes for v in VARIANTS]
        rows.append(f"| {title} | {' | '.join(cells)} |")
    heads = [f"{shape.label}, {v}" for shape in shapes for v in VARIANTS]
    return [
        "## Cost of request keys (issue 25)",
        "",
        f"One sanic-wsns instance on one redis-server; {plan['requests']:,} `echo` requests per cell (the "
        "handler returns their data), after a warm-up, sent by one client with 16 unanswered at a time, "
        "or by 16 clients with one each; each keyed request has a key of its own (a first run: claim, "
        "handler, answer kept). Keyed and unkeyed cells alternate on fresh server processes; median of "
        f"{plan['runs']} run(s) with (min–max); ratios run by run. Load average (1/5/15 min) at start "
        f"{start}, at end {end}: a shared, busy 2-core machine. Method: `bench/request_keys.py`.",
        "",
        "| shape | figure | observed | goal | verdict |",
        "| --- | --- | --- | --- | --- |",
        *goals,
        "",
        f"| figure | {' | '.join(heads)} |",
        "| --- |" + " ---: |" * len(heads),
        *rows,
        "",
        "Where the time goes: a keyed request's claim is a round trip before its handler, and the "
        "instance waits for it (its loop goes idle and wakes for the reply), where unkeyed requests are "
        "read, answered and written without a pause; sixteen at a time from one client, they cost a "
        "fraction of a lone request. Claims share the writer's batches: one client's requests queued "
        "behind a running handler are claimed as they arrive (`RequestKeys.claim_ahead`), and many "
        "clients' claims go together. The answer kept for a key is never awaited: it rides with the next "
        "batch (the next claim or publish), so a key costs two commands but at most one round trip.",
    ]


#: The per-cell figures shown: (title, key, format).
FIGURES = (
    ("server CPU per request (µs)", "cpu_us_per_request", "{:.1f}"),
    ("… of which user (µs)", "user_us_per_request", "{:.1f}"),
    ("… of which system/kernel (µs)", "system_us_per_request", "{:.1f}"),
    ("redis-server CPU per request (µs)", "redis_cpu_us_per_request", "{:.1f}"),
    ("Redis commands per request", "redis_commands_per_request", "{:.2f}"),
    ("Redis round trips (batches read) per request", "redis_reads_per_request", "{:.2f}"),
    ("requests/s (load generator bound)", "requests_per_s", "{:,.0f}"),
)


def _verdict(observed: list[float], limit: float) -> str:
    if not observed:
        return "not measured"
    # To one decimal: about one batch in a hundred reaches Redis in two reads, and the last
    # answer of a run goes alone, by its timer.
    return "**met**" if round(statistics.median(observed), 1) <= limit else "**not met**"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=None, help="runs per variant (default 3, quick 1)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args(argv)
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        figures = run_request_keys(args.quick, start_redis(stack, logs), args.runs)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    print("\n".join(render(figures)))


if __name__ == "__main__":
    main()
