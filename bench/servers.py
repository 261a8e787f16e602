"""The benchmark's targets and redis-server as child processes on free loopback ports,
started by the repository's one launcher (``tests.support.processes``): each is stopped by
its own pid and process group; nothing else on the machine is touched.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.support.processes import ROOT, ServerProcess, accepts
from tests.support.redis_servers import RedisServer

__all__ = ["ROOT", "TARGETS", "TARGET_NAMES", "START_TIMEOUT", "redis_calls", "redis_url", "start_redis",
           "start_target", "target_state"]

TARGETS = {
    "wsns": "bench.targets.wsns_app",
    "raw": "bench.targets.raw_sanic_app",
    "socketio": "bench.targets.socketio_app",
}
TARGET_NAMES = {"wsns": "sanic-wsns", "raw": "raw Sanic floor", "socketio": "python-socketio"}
#: Seconds a target has to listen after its start (imports on a busy machine).
START_TIMEOUT = 30.0


def target_state(server: ServerProcess) -> dict[str, Any]:
    """The target's ``GET /_bench/state``."""
    with urllib.request.urlopen(f"{server.url}/_bench/state", timeout=10) as r:
        return dict(json.load(r))


def start_target(stack: ExitStack, target: str, log_dir: Path, *, broker: str = "",
                 count_broker: bool = False, label: str = "", features: Sequence[str] = (),
                 env: dict[str, str] | None = None) -> ServerProcess:
    """Start ``python -m bench.targets.<target>`` and stop it when ``stack`` closes (not
    waiting for it: ``wait_ready(START_TIMEOUT)`` does); ``features`` become flags
    (``--history`` ..., see ``bench.targets.common.FEATURES``); ``env`` is added to the
    environment (``SANIC_WSNS_*``: settings the target does not take as flags)."""
    args = [sys.executable, "-m", TARGETS[target], "--port", "{port}"]
    if broker:
        args += ["--broker", broker]
    if count_broker:
        args.append("--count-broker")
    args += [f"--{feature}" for feature in features]
    server = ServerProcess(args, ready=accepts, name=f"{target}{label}", log_dir=log_dir, env=env)
    stack.callback(server.stop)
    return server.spawn()


def start_redis(stack: ExitStack, log_dir: Path) -> ServerProcess:
    """A private, empty, non-persistent redis-server on a free port (the tests' own), as a
    process like the targets: its pid is sampled and checked alive like theirs."""
    redis = RedisServer(log_dir=log_dir)
    stack.callback(redis.close)
    return redis.start().server


def redis_url(redis: ServerProcess) -> str:
    return f"redis://127.0.0.1:{redis.port}/0"


def redis_calls(redis: ServerProcess) -> dict[str, int]:
    """Commands the private redis-server has run since it started, by name
    (``INFO commandstats``); the difference of two readings is what a stage cost Redis."""
    import redis as redis_py

    with redis_py.Redis(port=redis.port, socket_timeout=10) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}
