"""The workloads, orchestrated: start servers, drive the load generator, read /proc.

Each ``wN`` function runs one workload against one target (sanic-wsns or a peer) on fresh
server processes and returns a flat dict of figures. The cost workloads (``history``,
``metrics``, ``presence``, ``recovery``) run sanic-wsns alone, once per variant (``off``,
``on``: the guarantee switched on by a target flag), so the report can set one against
the other run by run. CPU is the servers' own (``utime + stime``), sampled when the load
generator says a stage starts and ends, so connecting and closing clients is never billed
to a stage; Redis commands are counted from the private redis-server's ``INFO
commandstats`` at the same moments.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procstat import Sample, sample
from bench.servers import ROOT, START_TIMEOUT, redis_calls, redis_url, start_target, target_state
from tests.support.polling import attempts
from tests.support.processes import ServerProcess


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``FULL`` is the issue's, ``QUICK`` keeps the smoke test in seconds."""

    fanout_clients: int
    broadcasts: int
    window: int
    paced: int
    paced_rate: float
    idle_connections: int
    idle_namespaces: int
    churn_cycles: int
    churn_workers: int
    many_namespaces: int
    many_on_b: int
    many_messages: int
    settle: float
    linger_wait: float
    # The cost workloads (defaults: FULL, so raw figures saved before they existed still render).
    presence_clients: int = 1000
    presence_span: float = 10.0
    presence_hold: float = 2.0
    recovery_clients: int = 1000
    recovery_missed: int = 50


FULL = Sizes(fanout_clients=200, broadcasts=2000, window=16, paced=250, paced_rate=50.0,
             idle_connections=5000, idle_namespaces=500, churn_cycles=3000, churn_workers=16,
             many_namespaces=1000, many_on_b=10, many_messages=5, settle=1.0, linger_wait=2.5)
QUICK = Sizes(fanout_clients=6, broadcasts=20, window=4, paced=5, paced_rate=50.0,
              idle_connections=30, idle_namespaces=5, churn_cycles=16, churn_workers=4,
              many_namespaces=12, many_on_b=2, many_messages=2, settle=0.2, linger_wait=2.2,
              presence_clients=12, presence_span=1.0, presence_hold=0.3,
              recovery_clients=10, recovery_missed=5)

Stages = dict[str, dict[int, tuple[Sample, Sample]]]


class Skipped(Exception):
    """This target cannot run this workload in this checkout (the reason is reported)."""


def wsns_redis_available() -> bool:
    return importlib.util.find_spec("sanic_wsns.broker.redis") is not None


def _need_broker(target: str) -> None:
    if target == "wsns" and not wsns_redis_available():
        raise Skipped("sanic_wsns.broker.redis is not in this checkout yet")


def run_loadgen(spec: dict[str, Any], servers: Sequence[ServerProcess], timeout: float,
                on_stage: Callable[[str, str], None] | None = None) -> tuple[dict[str, Any], Stages]:
    """Run ``bench.loadgen`` with ``spec``; sample ``servers`` at every stage boundary.

    The load generator starts while the servers are still starting (both spend most of a
    second importing); it waits for their ports itself.

    ``on_stage(event, stage)`` is called at ``ready`` (just before the stage starts and is
    sampled) and ``end`` (just after it was sampled); ``bench.profile`` attaches its sampler
    there, the recovery workload kills and restarts an instance there. A server is sampled
    by its current pid, and only over a stage it was alive for from start to end."""
    process = subprocess.Popen([sys.executable, "-m", "bench.loadgen", json.dumps(spec)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    stages: Stages = {}
    before: dict[int, Sample] = {}
    deadline = time.monotonic() + timeout
    errors: list[str] = []
    try:
        for server in servers:
            server.wait_ready(START_TIMEOUT)
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"load generator exceeded {timeout:.0f}s on {spec['workload']}") from None
            if line is None:
                raise RuntimeError(f"load generator exited with {process.wait()} before its result")
            event = json.loads(line)
            kind = event.pop("event")
            if kind == "ready":
                if on_stage is not None:
                    on_stage(kind, event["stage"])
                before = {pid: sample(pid) for pid in _alive(servers)}
                _answer(process)
            elif kind == "end":
                stages[event["stage"]] = {pid: (before[pid], sample(pid)) for pid in _alive(servers)
                                          if pid in before}
                if on_stage is not None:
                    on_stage(kind, event["stage"])
                _answer(process)
            elif kind == "error":
                errors.append(event["error"])
            elif kind == "result":
                if errors:
                    event["client_errors"] = errors[:5]
                return event, stages
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _alive(servers: Sequence[ServerProcess]) -> list[int]:
    return [server.pid for server in servers if not server.ended()]


def _answer(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def cpu(stages: Stages, stage: str, pids: Sequence[int], part: str = "cpu") -> float:
    """CPU seconds (``part``: ``cpu``, ``user`` or ``system``) ``pids`` spent in ``stage``
    (a process that was not alive from the stage's start to its end counts nothing)."""
    samples = stages[stage]
    return sum(getattr(samples[pid][1], part) - getattr(samples[pid][0], part)
               for pid in pids if pid in samples)


def _per(value: float, count: float, scale: float = 1e6) -> float | None:
    return value * scale / count if count else None


# -- the workloads -----------------------------------------------------------------------


def _fanout_figures(result: dict[str, Any], stages: Stages, pids: Sequence[int]) -> dict[str, Any]:
    windowed, paced = result["windowed"], result["paced"]
    return {
        "deliveries": windowed["deliveries"],
        "lost": windowed["expected"] - windowed["deliveries"],
        "deliveries_per_s": windowed["deliveries_per_s"],
        "cpu_us_per_delivery": _per(cpu(stages, "windowed", pids), windowed["deliveries"]),
        "user_us_per_delivery": _per(cpu(stages, "windowed", pids, "user"), windowed["deliveries"]),
        "system_us_per_delivery": _per(cpu(stages, "windowed", pids, "system"), windowed["deliveries"]),
        "paced_cpu_us_per_delivery": _per(cpu(stages, "paced", pids), paced["deliveries"]),
        "paced_lost": paced["expected"] - paced["deliveries"],
        "p50_ms": paced["p50_ms"], "p99_ms": paced["p99_ms"],
        "remote_p50_ms": paced["remote_p50_ms"], "remote_p99_ms": paced["remote_p99_ms"],
        "local_p50_ms": paced["local_p50_ms"], "local_p99_ms": paced["local_p99_ms"],
    }


def fanout_spec(target: str, urls: list[str], sizes: Sizes) -> dict[str, Any]:
    return {"workload": "fanout", "target": target, "urls": urls, "room": "fanout",
            "clients": sizes.fanout_clients, "broadcasts": sizes.broadcasts, "window": sizes.window,
            "paced": sizes.paced, "rate": sizes.paced_rate}


def idle_spec(target: str, urls: list[str], sizes: Sizes) -> dict[str, Any]:
    return {"workload": "idle", "target": target, "urls": urls, "connections": sizes.idle_connections,
            "namespaces": sizes.idle_namespaces, "settle": sizes.settle}


def churn_spec(target: str, urls: list[str], sizes: Sizes) -> dict[str, Any]:
    return {"workload": "churn", "target": target, "urls": urls, "cycles": sizes.churn_cycles,
            "workers": sizes.churn_workers}


def w1(stack: ExitStack, target: str, sizes: Sizes, log_dir: Path, redis: ServerProcess,
       features: Sequence[str] = ()) -> dict[str, Any]:
    """Fan-out on one instance."""
    server = start_target(stack, target, log_dir, features=features)
    result, stages = run_loadgen(fanout_spec(target, [server.ws("")], sizes), [server], 300)
    return _fanout_figures(result, stages, [server.pid])


def w2(stack: ExitStack, target: str, sizes: Sizes, log_dir: Path, redis: ServerProcess,
       features: Sequence[str] = ()) -> dict[str, Any]:
    """Fan-out across two instances through Redis; client 0 (the sender) is on A."""
    _need_broker(target)
    a = start_target(stack, target, log_dir, broker=redis_url(redis), label="-a", features=features)
    b = start_target(stack, target, log_dir, broker=redis_url(redis), label="-b", features=features)
    pids = [a.pid, b.pid]
    result, stages = run_loadgen(fanout_spec(target, [a.ws(""), b.ws("")], sizes), [a, b, redis], 300)
    figures = _fanout_figures(result, stages, pids)
    figures["redis_cpu_us_per_delivery"] = _per(cpu(stages, "windowed", [redis.pid]),
                                                result["windowed"]["deliveries"])
    return figures


def w3(stack: ExitStack, target: str, sizes: Sizes, log_dir: Path, redis: ServerProcess) -> dict[str, Any]:
    """Idle connections: memory per connection and time to open them all."""
    server = start_target(stack, target, log_dir)
    held: dict[str, Any] = {}

    def read_state(event: str, stage: str) -> None:
        if event == "end":  # while the connections are still open
            held.update(target_state(server))

    result, stages = run_loadgen(idle_spec(target, [server.ws("")], sizes), [server], 300, read_state)
    before, after = stages["open"][server.pid]
    state = held
    return {
        "connections": result["connections"],
        "opens_per_s": result["opens_per_s"],
        "open_seconds": result["seconds"],
        "rss_kib_per_connection": (after.rss - before.rss) / 1024 / result["connections"],
        "rss_mib_idle": before.rss / 2**20,
        "cpu_us_per_open": _per(cpu(stages, "open", [server.pid]), result["connections"]),
        "namespaces": state["namespaces"],
        "clients": state["clients"],
    }


def w4(stack: ExitStack, target: str, sizes: Sizes, log_dir: Path, redis: ServerProcess) -> dict[str, Any]:
    """Churn: a fresh room per connection, so every cycle creates and drops a namespace."""
    server = start_target(stack, target, log_dir).wait_ready(START_TIMEOUT)
    baseline = target_state(server)
    result, stages = run_loadgen(churn_spec(target, [server.ws("")], sizes), [server], 300)
    # sanic-wsns keeps a dropped channel's subscription up to 2 s: a leak is what is
    # still there once ``linger_wait`` has passed.
    for _ in attempts(sizes.linger_wait):
        after = target_state(server)
        if not _leaks(after, baseline):
            break
        time.sleep(0.1)
    return {
        "cycles": result["cycles"],
        "cycles_per_s": result["cycles_per_s"],
        "cpu_us_per_cycle": _per(cpu(stages, "churn", [server.pid]), result["cycles"]),
        "user_us_per_cycle": _per(cpu(stages, "churn", [server.pid], "user"), result["cycles"]),
        # What one server core could sustain if the load generator were infinitely fast.
        "cycles_per_cpu_s": _per(result["cycles"], cpu(stages, "churn", [server.pid]), 1.0),
        "leaked_namespaces": after["namespaces"],
        "leaked_clients": after["clients"],
        "leaked_tasks": after["tasks"] - baseline["tasks"],
        "leaked_subscriptions": after.get("subscriptions", 0),
        "leaked_pending": after.get("pending", 0),
        "created": after.get("created"),
        "dropped": after.get("dropped"),
    }


def _leaks(state: dict[str, Any], baseline: dict[str, Any]) -> bool:
    return bool(state["namespaces"] or state["clients"] or state.get("subscriptions")
                or state.get("pending") or state["tasks"] > baseline["tasks"])


def w5(stack: ExitStack, target: str, sizes: Sizes, log_dir: Path, redis: ServerProcess) -> dict[str, Any]:
    """Many namespaces: A hosts them all, B only a few; what does B hear from the broker?"""
    _need_broker(target)
    a = start_target(stack, target, log_dir, broker=redis_url(redis), count_broker=True, label="-a")
    b = start_target(stack, target, log_dir, broker=redis_url(redis), count_broker=True, label="-b")
    spec = {"workload": "many", "target": target, "urls": [a.ws(""), b.ws("")],
            "namespaces": sizes.many_namespaces, "hosted_on_b": sizes.many_on_b,
            "messages": sizes.many_messages}
    result, stages = run_loadgen(spec, [a, b], 300)
    state_b = target_state(b)
    messages = result["messages"]
    return {
        "messages": messages,
        "lost": result["expected"] - result["deliveries"],
        "b_expected": sizes.many_on_b * sizes.many_messages,
        "b_broker_received": state_b["broker_received"],
        "b_broker_foreign": state_b["broker_foreign"],
        "b_cpu_ms": cpu(stages, "traffic", [b.pid]) * 1e3,
        "b_cpu_us_per_message": _per(cpu(stages, "traffic", [b.pid]), messages),
        "a_cpu_us_per_message": _per(cpu(stages, "traffic", [a.pid]), messages),
    }


# -- the cost of each guarantee (sanic-wsns alone, off vs on) ------------------------------


class RedisMeter:
    """An ``on_stage`` hook: Redis commands run during each stage, by command name."""

    def __init__(self, redis: ServerProcess):
        self.redis = redis
        self._before: dict[str, int] = {}
        self.stages: dict[str, dict[str, int]] = {}

    def __call__(self, event: str, stage: str) -> None:
        calls = redis_calls(self.redis)
        if event == "ready":
            self._before = calls
            return
        delta = {name: n - self._before.get(name, 0) for name, n in calls.items()}
        # Each reading costs one HELLO and one INFO: the earlier reading's INFO and this
        # reading's HELLO fall inside the stage.
        for own in ("info", "hello"):
            delta[own] = delta.get(own, 0) - 1
        self.stages[stage] = {name: n for name, n in delta.items() if n > 0}

    def total(self, stage: str) -> int:
        return sum(self.stages[stage].values())


def _hooks(*hooks: Callable[[str, str], None]) -> Callable[[str, str], None]:
    def each(event: str, stage: str) -> None:
        for hook in hooks:
            hook(event, stage)
    return each


def _switched(feature: str, variant: str) -> tuple[str, ...]:
    return (feature,) if variant == "on" else ()


def history_cost(stack: ExitStack, variant: str, sizes: Sizes, log_dir: Path,
                 redis: ServerProcess) -> dict[str, Any]:
    """W2's shape with ``History()`` on the bench pattern (``on``) or without (``off``);
    ``awaited``: on, with the handler waiting for each broadcast's position.

    With history a broadcast is numbered by Redis (one script: counter, XADD, PUBLISH), and
    the sender's own instance delivers it only once the script's reply gave the offset: the
    local round trip is in ``local_p50_ms``/``local_p99_ms``."""
    features = ("history", "awaited") if variant == "awaited" else _switched("history", variant)
    return w2(stack, "wsns", sizes, log_dir, redis, features=features)


def metrics_cost(stack: ExitStack, variant: str, sizes: Sizes, log_dir: Path,
                 redis: ServerProcess) -> dict[str, Any]:
    """W1 with ``metrics_url`` set (``on``: prometheus_client counting) or not."""
    return w1(stack, "wsns", sizes, log_dir, redis, features=_switched("metrics", variant))


def _leftovers(servers: Sequence[ServerProcess], linger_wait: float) -> dict[str, Any]:
    """Namespaces and clients still on ``servers`` once a dropped namespace's linger passed."""
    for _ in attempts(linger_wait):
        states = [target_state(server) for server in servers]
        namespaces = sum(s["namespaces"] for s in states)
        clients = sum(s["clients"] for s in states)
        if not (namespaces or clients):
            break
        time.sleep(0.1)
    return {"leaked_namespaces": namespaces, "leaked_clients": clients}


def presence_cost(stack: ExitStack, variant: str, sizes: Sizes, log_dir: Path,
                  redis: ServerProcess) -> dict[str, Any]:
    """Join/leave churn in one room on two instances + Redis, ``presence=True`` or not."""
    features = _switched("presence", variant)
    a = start_target(stack, "wsns", log_dir, broker=redis_url(redis), label="-a", features=features)
    b = start_target(stack, "wsns", log_dir, broker=redis_url(redis), label="-b", features=features)
    spec = {"workload": "presence", "target": "wsns-frames", "urls": [a.ws(""), b.ws("")],
            "room": f"presence-{uuid.uuid4().hex[:8]}", "clients": sizes.presence_clients,
            "span": sizes.presence_span, "hold": sizes.presence_hold, "settle": sizes.settle}
    meter = RedisMeter(redis)
    result, stages = run_loadgen(spec, [a, b, redis], 120 + 2 * sizes.presence_span, meter)
    joins, seconds, frames = result["joins"], result["seconds"], result["frames"]
    presence_frames = frames.get("presence_state", 0) + frames.get("presence_diff", 0)
    servers_cpu = cpu(stages, "churn", [a.pid, b.pid])
    return {
        "joins": joins,
        "seconds": seconds,
        "servers_cpu_s": servers_cpu,
        "cpu_us_per_join": _per(servers_cpu, joins),
        "redis_cpu_us_per_join": _per(cpu(stages, "churn", [redis.pid]), joins),
        "redis_ops": meter.total("churn"),
        "redis_ops_per_s": meter.total("churn") / seconds,
        "redis_ops_per_join": meter.total("churn") / joins,
        "redis_commands": meter.stages["churn"],
        "presence_frames_per_join": presence_frames / joins,
        "state_frames": frames.get("presence_state", 0),
        "diff_frames": frames.get("presence_diff", 0),
        "diff_entries": result["diff_entries"],
        "frames": frames,
        **_leftovers([a, b], sizes.linger_wait),
    }


def recovery_cost(stack: ExitStack, variant: str, sizes: Sizes, log_dir: Path,
                  redis: ServerProcess) -> dict[str, Any]:
    """Instance A (all the clients) is killed; B publishes ``recovery_missed`` frames; A
    restarts on its port and the clients come back with ``since``/``epoch``. With history
    off nothing can be recovered: every client must re-fetch its state from the app."""
    features = _switched("history", variant)
    a = start_target(stack, "wsns", log_dir, broker=redis_url(redis), label="-a", features=features)
    b = start_target(stack, "wsns", log_dir, broker=redis_url(redis), label="-b", features=features)

    def restart(event: str, stage: str) -> None:
        if stage == "outage" and event == "ready":
            a.kill()
        elif stage == "outage" and event == "end":
            a.spawn().wait_ready(START_TIMEOUT)

    spec = {"workload": "recovery", "target": "wsns-frames", "urls": [a.ws(""), b.ws("")],
            "room": f"recovery-{uuid.uuid4().hex[:8]}", "clients": sizes.recovery_clients,
            "missed": sizes.recovery_missed, "settle": sizes.settle}
    meter = RedisMeter(redis)
    result, stages = run_loadgen(spec, [a, b, redis], 300, _hooks(meter, restart))
    back, n = result["recovery"], sizes.recovery_clients
    return {
        "clients": n,
        "missed": sizes.recovery_missed,
        "seconds_to_all_back": back["seconds"],
        "clients_done": back["done"],
        "recovered": back["recovered"],
        "resynced": back["resynced"],
        "refetches": n - back["recovered"],
        "out_of_order": back["out_of_order"],
        "missed_frames_per_client": back["caught_up_frames"] / n,
        "redis_ops": meter.total("recovery"),
        "redis_ops_per_client": meter.total("recovery") / n,
        "redis_commands": meter.stages["recovery"],
        "servers_cpu_us_per_client": _per(cpu(stages, "recovery", [a.pid, b.pid]), n),
        "redis_cpu_ms": cpu(stages, "recovery", [redis.pid]) * 1e3,
        **_leftovers([a, b], sizes.linger_wait),
    }


Workload = Callable[[ExitStack, str, Sizes, Path, ServerProcess], dict[str, Any]]

WORKLOADS: dict[str, Workload] = {
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5,
    "history": history_cost, "metrics": metrics_cost, "presence": presence_cost, "recovery": recovery_cost,
}
#: The cost workloads run these variants in place of the peer targets.
VARIANTS: dict[str, tuple[str, ...]] = {name: ("off", "on")
                                        for name in ("history", "metrics", "presence", "recovery")}
#: History's third column: the handler waits for each broadcast's position.
VARIANTS["history"] = ("off", "on", "awaited")
