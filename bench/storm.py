"""A reconnect storm (issue 28 goal 6): one of four instances dies; its clients come back
on the other three, with ``since``/``epoch``, while broadcasts go on.

``python -m bench.storm [--quick] [--connections N] [--json PATH]`` (also a section of
``python -m bench.run``). For each variant (``WSNS_OPEN_RATE`` off, then on), fresh
processes: a redis-server, ``instances`` sanic-wsns bench targets with history on, and the
clients in worker processes (``python -m bench.storm --worker``, at most ``PER_WORKER``
clients each, client *j* in worker (*j* div ``instances``) mod workers; the first one sends). Client *j* joins
room *j* mod ``namespaces`` on instance *j* mod ``instances``; one sender per room on
instance 0 broadcasts ``rate`` times a second in all, round-robin, from start to end.

After ``baseline`` seconds the last instance is killed (SIGKILL). Each of its clients
reconnects to instance *j* mod (``instances`` - 1) after the real client's full-jitter
backoff (``sanic_wsns.remote.backoff.Backoff``, 0.5 s doubling to 20 s: a 1013 or a failed
handshake is one more failure; a 1013's ``retry_after=N`` is waited first), with its last
offset and epoch, and is back when welcomed with ``recovered: true`` (a ``resync`` or
``recovered: false`` is counted, not back).

Figures: the time from the kill until every moved client was back (and when half, 90 %,
99 % were), refusals (1013), attempts, resyncs; the survivors' clients' p50/p99 latency
(send to arrival of the bytes, ``bench.loadgen.StampedConnection``) before the kill and
during the storm (from the kill until every moved client was back); the survivors' CPU
during the storm, and the workers' own CPU (near the storm's length times the workers, the
clients were the limit). It runs at the goal's size, 80,000 clients of which 20,000 move,
or at the most clients a survivor can hold within the open-files limit (the report says
so); ``--connections 8000`` is a reduced run for a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import resource
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from bench.loadgen import DIALECTS, Catchup, Client, Harness, close_all, emit, message, percentile
from bench.procstat import sample
from bench.scale import Loadgens
from bench.servers import ROOT, START_TIMEOUT, redis_url, start_redis, start_target
from bench.targets.common import raise_fd_limit
from sanic_wsns.remote.backoff import Backoff
from sanic_wsns.remote.closes import retry_hint
from sanic_wsns.remote.connection import Ended

VARIANTS = ("open rate off", "open rate on")
CONCURRENCY = 100  # handshakes in flight per worker while the clients first open
#: Clients per worker process: below the 20,000 open files a process may hold.
PER_WORKER = 15_000
#: Seconds the workers have to open every client.
OPEN_TIMEOUT = 600.0


@dataclass(frozen=True)
class StormSizes:
    instances: int
    connections: int
    namespaces: int
    rate: float  # broadcasts per second, all rooms together
    baseline: float  # seconds of broadcasts before the kill
    open_rate: float  # WSNS_OPEN_RATE per instance in the "on" variant
    open_burst: int
    timeout: float  # seconds the moved clients have to come back
    workers: int  # client processes (more when the clients need them: ``PER_WORKER``)


#: The issue's size: 80,000 clients, 20,000 of them on the instance that dies. Rooms of 200
#: and 40 broadcasts a second (8,000 deliveries a second) keep the clients' load at any size.
FULL = StormSizes(instances=4, connections=80_000, namespaces=400, rate=40, baseline=5.0,
                  open_rate=300, open_burst=100, timeout=120.0, workers=2)
CLIENTS_PER_ROOM = FULL.connections // FULL.namespaces
#: Descriptors a server needs besides its clients (Redis, listeners, logs, the senders).
OPEN_FILES_SPARE = 1_000
QUICK = StormSizes(instances=4, connections=80, namespaces=8, rate=20, baseline=1.0,
                   open_rate=5, open_burst=3, timeout=60.0, workers=2)


@dataclass
class Moved:
    """A client of the killed instance, coming back."""

    view: Catchup
    attempts: int = 0
    refused: int = 0  # closed with 1013
    back_after: float | None = None  # seconds from the kill to its recovered welcome
    tried_at: float = 0.0  # seconds from the kill to the start of its last attempt
    resynced: bool = False


@dataclass
class Watch:
    """The survivors' clients' latencies, by phase (``before`` the kill, ``storm``)."""

    phase: str = "before"
    latencies: dict[str, list[int]] = field(default_factory=lambda: {"before": [], "storm": []})


class Storm:
    """The clients of one variant's run: open, broadcast, kill, come back."""

    def __init__(self, urls: list[str], sizes: StormSizes, members: list[int], sends: bool):
        self.urls = urls
        self.sizes = sizes
        self.members = members
        self.sends = sends
        self.harness = Harness(DIALECTS["wsns-frames"])
        self.harness.on_data = self.on_frame
        self.views = [Catchup() for _ in range(sizes.connections)]
        self.dead = sizes.instances - 1
        self.watch = Watch()
        self.moved: dict[int, Moved] = {}
        self.all_back = asyncio.Event()
        self.loop_lag = 0.0  # the worker's longest late wake-up during the storm, in seconds
        self.loop_lag_cpu = 0.0  # the worker's CPU seconds during that wait (busy, or not run?)
        self.clients: list[Client] = []
        self.senders: list[Client] = []

    def room(self, j: int) -> str:
        return f"storm-{j % self.sizes.namespaces}"

    def on_frame(self, client: Client, frame: dict[str, Any]) -> None:
        if client.index < 0:
            return  # a sender's own echo
        view = self.views[client.index]
        if frame.get("type") == "echo-all":
            if "offset" in frame:
                view.heard(frame["offset"])
            if client.index % self.sizes.instances != self.dead:  # not a moved client's catch-up
                self.watch.latencies[self.watch.phase].append(client.ws.received_ns - frame["data"]["t"])
        elif frame.get("type") == "resync":
            view.resynced = True

    async def open(self) -> None:
        """Every client, then the senders; with the open rate on, the first opens are held
        to it too: a 1013 is retried (after 0.5-1.5 s), it is not the storm yet."""
        n, gate = self.sizes.instances, asyncio.Semaphore(CONCURRENCY)
        self.clients = list(await asyncio.gather(*(
            self.open_patiently(gate, j, self.urls[j % n], self.room(j), j % n) for j in self.members)))
        for client in self.clients:
            self.views[client.index].welcomed(json.loads(client.joined)["data"])
        rooms = [self.room(k) for k in range(self.sizes.namespaces)] if self.sends else []
        self.senders = list(await asyncio.gather(*(
            self.open_patiently(gate, -1, self.urls[0], room, 0) for room in rooms)))

    async def open_patiently(self, gate: asyncio.Semaphore, index: int, url: str, room: str,
                             instance: int) -> Client:
        while True:
            async with gate:
                try:
                    return await self.harness.open(url, room, index, instance)
                except ConnectionClosed as exc:
                    if exc.rcvd is None or exc.rcvd.code != 1013:
                        raise
            await asyncio.sleep(0.5 + random.random())

    async def broadcast(self, stop: asyncio.Event) -> int:
        """``rate`` broadcasts a second, round-robin over the rooms, until ``stop``."""
        start, seq = time.perf_counter(), 0
        while not stop.is_set():
            delay = start + seq / self.sizes.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sender = self.senders[seq % len(self.senders)]
            await sender.ws.send(DIALECTS["wsns"].encode(message("s", seq)))
            seq += 1
        return seq

    async def come_back(self, j: int, killed_ns: int) -> None:
        """One moved client: backoff, reconnect with its position, until recovered."""
        moved = self.moved[j]
        backoff = Backoff()
        survivors = self.sizes.instances - 1
        url, instance = self.urls[j % survivors], j % survivors
        hint = 0.0  # the last 1013's retry_after, as the real client honours it
        while moved.back_after is None and not moved.resynced:
            await asyncio.sleep(backoff.next(not_before=hint))
            moved.attempts += 1
            moved.tried_at = (time.monotonic_ns() - killed_ns) / 1e9
            try:
                client = await self.harness.open(url, self.room(j), j, instance, moved.view.query())
            except ConnectionClosed as exc:
                ended = Ended(exc.rcvd.code, exc.rcvd.reason) if exc.rcvd is not None else Ended(1006, "")
                moved.refused += ended.code == 1013
                hint = retry_hint(ended)
                continue
            except (OSError, TimeoutError):
                continue
            welcome = json.loads(client.joined)["data"]
            moved.view.welcomed(welcome)
            self.clients.append(client)
            if welcome.get("recovered"):
                moved.back_after = (time.monotonic_ns() - killed_ns) / 1e9
            else:
                moved.resynced = True
        if all(m.back_after is not None or m.resynced for m in self.moved.values()):
            self.all_back.set()


def _share(values: list[float], total: int, q: float) -> float | None:
    """Seconds until ``q`` of ``total`` clients were back (``None``: fewer came back)."""
    need = max(1, round(q * total))
    ordered = sorted(values)
    return ordered[need - 1] if len(ordered) >= need else None


async def _line() -> str:
    """The orchestrator's next line on stdin."""
    return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()


async def _loop_lag(storm: Storm) -> None:
    """The worker's own event loop, watched: how late a 10 ms sleep wakes (a loop busy with
    its clients would delay every welcome it reads, whatever the servers do)."""
    while True:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            await asyncio.sleep(0.01)
        finally:  # cancelled at the end of the storm: the stall it was in counts too
            late = time.perf_counter() - start - 0.01
            if late > storm.loop_lag:
                storm.loop_lag, storm.loop_lag_cpu = late, time.process_time() - cpu


async def storm_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One client process: open its ``members`` (and the senders, in the first), say
    ``ready``; at ``go`` broadcast; at ``kill <monotonic ns>`` bring its moved clients back,
    say ``back`` when they are; at ``stop`` close, and return what it saw."""
    sizes = StormSizes(**spec["sizes"])
    storm = Storm(spec["urls"], sizes, spec["members"], spec["senders"])
    await storm.open()
    emit({"event": "ready"})
    await _line()
    stop = asyncio.Event()
    publisher = asyncio.get_running_loop().create_task(storm.broadcast(stop)) if storm.senders else None
    killed_ns = int((await _line()).split()[1])
    own_before = time.process_time()
    storm.watch.phase = "storm"
    storm.moved = {j: Moved(storm.views[j]) for j in storm.members if j % sizes.instances == storm.dead}
    if not storm.moved:
        storm.all_back.set()
    tasks = [asyncio.get_running_loop().create_task(storm.come_back(j, killed_ns)) for j in storm.moved]
    lag = asyncio.get_running_loop().create_task(_loop_lag(storm))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(storm.all_back.wait(), sizes.timeout)
    lag.cancel()
    emit({"event": "back"})
    await _line()
    own_cpu = time.process_time() - own_before
    for task in tasks:
        task.cancel()
    stop.set()
    sent = await publisher if publisher is not None else 0
    await close_all(storm.clients + storm.senders)
    moved = list(storm.moved.values())
    return {"moved": len(moved), "resynced": sum(m.resynced for m in moved),
            "refused": sum(m.refused for m in moved), "attempts": sum(m.attempts for m in moved),
            "back_times_s": [m.back_after for m in moved if m.back_after is not None],
            "tried_times_s": [m.tried_at for m in moved if m.back_after is not None],
            "loop_lag_s": storm.loop_lag, "loop_lag_cpu_s": storm.loop_lag_cpu,
            "latencies": storm.watch.latencies, "clients_cpu_s": own_cpu, "broadcasts": sent}


def merge(results: list[dict[str, Any]], storm_seconds: float, survivors_cpu: float) -> dict[str, Any]:
    """The workers' results as one run's figures."""
    moved = sum(r["moved"] for r in results)
    back = sorted(t for r in results for t in r["back_times_s"])
    tried = sorted(t for r in results for t in r.get("tried_times_s", []))
    before = [ns for r in results for ns in r["latencies"]["before"]]
    during = [ns for r in results for ns in r["latencies"]["storm"]]
    return {"moved": moved, "back": len(back), "resynced": sum(r["resynced"] for r in results),
            "refused": sum(r["refused"] for r in results), "attempts": sum(r["attempts"] for r in results),
            "all_back_s": back[-1] if back and len(back) == moved else None,
            "half_back_s": _share(back, moved, 0.5), "p90_back_s": _share(back, moved, 0.9),
            "p99_back_s": _share(back, moved, 0.99), "back_times_s": back,
            "half_tried_s": _share(tried, moved, 0.5), "all_tried_s": tried[-1] if tried else None,
            "loop_lag_ms": [round(1000 * r.get("loop_lag_s", 0.0)) for r in results],
            "loop_lag_cpu_ms": [round(1000 * r.get("loop_lag_cpu_s", 0.0)) for r in results],
            "before_p50_ms": percentile(before, 50), "before_p99_ms": percentile(before, 99),
            "storm_p50_ms": percentile(during, 50), "storm_p99_ms": percentile(during, 99),
            "storm_seconds": storm_seconds, "survivors_cpu_s": survivors_cpu,
            "clients_cpu_s": sum(r["clients_cpu_s"] for r in results),
            "workers": len(results), "broadcasts": sum(r["broadcasts"] for r in results)}


def members(sizes: StormSizes, workers: int, worker: int) -> list[int]:
    """The clients of one worker: client *j* in worker (*j* div ``instances``) mod workers,
    so that every instance's clients, the killed one's included, are shared by all the
    workers (by *j* mod workers, with 2 workers and 4 instances, one worker held every
    moved client and the other none)."""
    return [j for j in range(sizes.connections) if (j // sizes.instances) % workers == worker]


def one_variant(variant: str, sizes: StormSizes, logs: Path) -> dict[str, Any]:
    env = ({"SANIC_WSNS_OPEN_RATE": str(sizes.open_rate), "SANIC_WSNS_OPEN_BURST": str(sizes.open_burst)}
           if variant == "open rate on" else None)
    with ExitStack() as stack:
        redis = start_redis(stack, logs)
        servers = [start_target(stack, "wsns", logs, broker=redis_url(redis), label=f"-storm{i}",
                                features=("history",), env=env) for i in range(sizes.instances)]
        for server in servers:
            server.wait_ready(START_TIMEOUT)
        count = max(sizes.workers, math.ceil(sizes.connections / PER_WORKER))
        outs = Path(tempfile.mkdtemp(prefix="wsns-storm-"))
        stack.callback(shutil.rmtree, outs, True)
        specs = [{"urls": [s.ws("") for s in servers], "sizes": asdict(sizes), "senders": w == 0,
                  "members": members(sizes, count, w), "out": str(outs / f"{w}.json")}
                 for w in range(count)]
        workers = Loadgens(stack, specs, command=("-m", "bench.storm", "--worker"))
        deadline = time.monotonic() + OPEN_TIMEOUT + sizes.timeout
        workers.wait_all("ready", deadline)
        workers.go()
        time.sleep(sizes.baseline)  # broadcasts go on in the workers: the survivors' "before"
        survivors = [s.pid for s in servers[:-1]]
        before = {pid: sample(pid) for pid in survivors}
        killed_ns = time.monotonic_ns()
        servers[-1].kill()
        workers.tell(f"kill {killed_ns}")
        workers.wait_all("back", time.monotonic() + sizes.timeout + 30)
        storm_seconds = (time.monotonic_ns() - killed_ns) / 1e9
        cpu = sum(sample(pid).cpu - before[pid].cpu for pid in survivors)
        workers.go()
        workers.wait_all("result", time.monotonic() + 120)
        results = [json.loads(Path(spec["out"]).read_text()) for spec in specs]
    return {"variant": variant, **merge(results, storm_seconds, cpu)}


def run_storm(quick: bool, connections: int | None = None) -> dict[str, Any]:
    """Both variants, one after the other; a failed one is reported as its error."""
    raise_fd_limit()
    sizes = QUICK if quick else FULL
    if connections is not None:  # a reduced run on a busy machine: rooms of the same size
        sizes = replace(sizes, connections=connections,
                        namespaces=max(1, connections // CLIENTS_PER_ROOM))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    fitted = fit_to_open_files(sizes, limit)
    out: dict[str, Any] = {"quick": quick, "sizes": asdict(fitted)}
    if fitted != sizes:
        out["fitted"] = {"asked": sizes.connections, "open_files": limit}
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    for variant in VARIANTS:
        try:
            results.append(one_variant(variant, fitted, logs))
        except Exception as exc:
            results.append({"variant": variant, "error": f"{type(exc).__name__}: {exc}"})
        print(f"storm {variant}: {json.dumps(results[-1])[:400]}", file=sys.stderr, flush=True)
    return {**out, "variants": results}


def fit_to_open_files(sizes: StormSizes, limit: int) -> StormSizes:
    """``sizes``, or fewer clients (rooms of the same size) if a survivor would need more
    open files than a process may hold: after the kill each of the others holds its share,
    and a server out of descriptors drops handshakes instead of measuring the storm."""
    per_survivor = limit - OPEN_FILES_SPARE
    if math.ceil(sizes.connections / (sizes.instances - 1)) <= per_survivor:
        return sizes
    step = CLIENTS_PER_ROOM * sizes.instances
    connections = per_survivor * (sizes.instances - 1) // step * step
    return replace(sizes, connections=connections, namespaces=connections // CLIENTS_PER_ROOM)


# -- the report ------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


ROWS = (
    "moved clients / back (recovered) / resynced",
    "seconds from the kill until half / 90 % / 99 % / all were back",
    "seconds from the kill until half / all of the attempts that came back had started",
    "each client worker's longest event-loop stall during the storm (ms, and its CPU in it)",
    "1013 refusals / attempts",
    "survivors' clients p50 / p99 before the kill (ms)",
    "survivors' clients p50 / p99 during the storm (ms)",
    "survivors' CPU during the storm (s) / its length (s)",
    "the clients' CPU during the storm (s; all worker processes)",
)


def _cells(r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return [f"error: {r['error'][:100]}"] + [""] * (len(ROWS) - 1)
    return [f"{r['moved']:,} / {r['back']:,} / {r['resynced']:,}",
            " / ".join(_fmt(r[k], ".1f") for k in ("half_back_s", "p90_back_s", "p99_back_s", "all_back_s")),
            " / ".join(_fmt(r.get(k), ".1f") for k in ("half_tried_s", "all_tried_s")),
            ", ".join(f"{lag:,} ({cpu:,})"
                      for lag, cpu in zip(r["loop_lag_ms"], r["loop_lag_cpu_ms"], strict=True)),
            f"{r['refused']:,} / {r['attempts']:,}",
            f"{_fmt(r['before_p50_ms'], '.1f')} / {_fmt(r['before_p99_ms'], '.1f')}",
            f"{_fmt(r['storm_p50_ms'], '.1f')} / {_fmt(r['storm_p99_ms'], '.1f')}",
            f"{r['survivors_cpu_s']:.1f} / {r['storm_seconds']:.1f}", f"{r['clients_cpu_s']:.1f}"]


def render(figures: dict[str, Any]) -> list[str]:
    sizes = figures["sizes"]
    columns = [_cells(r) for r in figures["variants"]]
    return [
        "## Reconnect storm (issue 28 goal 6)", "",
        f"`python -m bench.storm{' --quick' if figures['quick'] else ''}`: {sizes['connections']:,} clients "
        f"over {sizes['instances']} instances (history on, one Redis) in {sizes['namespaces']} namespaces, "
        f"{sizes['rate']:g} broadcasts/s throughout; after {sizes['baseline']:g} s the last instance is "
        "killed and its clients come back on the others with `since`/`epoch`, after the real client's "
        "full-jitter backoff (0.5 s doubling to 20 s; a 1013 counts as a failure, its `retry_after=N` "
        "is waited first). \"On\": `WSNS_OPEN_RATE` "
        f"{sizes['open_rate']:g}/s, `WSNS_OPEN_BURST` {sizes['open_burst']} per instance."
        f"{_fitted(figures)}", "",
        "| figure | " + " | ".join(r["variant"] for r in figures["variants"]) + " |",
        "| --- |" + " ---: |" * len(figures["variants"]),
        *(f"| {title} | " + " | ".join(c[i] for c in columns) + " |" for i, title in enumerate(ROWS)),
    ]


def _fitted(figures: dict[str, Any]) -> str:
    fitted = figures.get("fitted")
    if not fitted:
        return ""
    survivors = figures["sizes"]["instances"] - 1
    return (f" Fewer clients than the {fitted['asked']:,} asked: a process may hold {fitted['open_files']:,} "
            f"open files here, and after the kill each of the {survivors} survivors holds 1/{survivors} of "
            "the clients.")


def plot(figures: dict[str, Any], folder: Path) -> list[Path]:
    """Clients back against seconds since the kill, one line per variant."""
    from bench.plots import plt, save  # matplotlib only when a report is drawn

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for r in figures["variants"]:
        times = r.get("back_times_s", [])
        ax.step([0.0, *times], range(len(times) + 1), where="post", label=r["variant"])
    ax.set_xlabel("seconds since the kill")
    ax.set_ylabel("moved clients back (recovered)")
    ax.legend(fontsize=8)
    return [save(fig, folder / "storm.svg")]


def main(argv: list[str] | None = None) -> None:
    if argv is None and sys.argv[1:] == ["--worker"]:
        raise_fd_limit()
        import uvloop

        spec = json.loads(sys.stdin.readline())
        # Through a file: every latency is in it, too long for a line on a pipe.
        Path(spec["out"]).write_text(json.dumps(uvloop.run(storm_worker(spec))))
        emit({"event": "result"})
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    parser.add_argument("--connections", type=int, default=None, help="clients in all (default 80,000)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    figures = run_storm(args.quick, args.connections)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    print("\n".join(render(figures)))


if __name__ == "__main__":
    main()
