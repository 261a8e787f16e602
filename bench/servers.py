"""Launchers: targets and redis-server as child processes on free loopback ports.

Every process started here is a child of the harness and is stopped by its own pid
(SIGTERM, then SIGKILL after a grace period); nothing else on the machine is touched.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "wsns": "bench.targets.wsns_app",
    "raw": "bench.targets.raw_sanic_app",
    "socketio": "bench.targets.socketio_app",
}
TARGET_NAMES = {"wsns": "sanic-wsns", "raw": "raw Sanic floor", "socketio": "python-socketio"}
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Child:
    """One child process listening on ``port``, started by ``args``."""

    name: str
    args: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            return subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def wait_listening(self, timeout: float = 30.0) -> Child:
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not listen within {timeout}s; see {self.log}")
            time.sleep(0.05)
        return self

    def state(self) -> dict[str, Any]:
        """The target's ``GET /_bench/state``."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_bench/state", timeout=10) as r:
            return dict(json.load(r))

    def crash(self) -> None:
        """``kill -9``: the instance dies without closing anything (the recovery workload)."""
        self.process.kill()
        self.process.wait(10)

    def start_again(self) -> Child:
        """The same command on the same port, after ``crash``: a restarted instance."""
        if self.process.poll() is None:
            raise RuntimeError(f"{self.name} is still running")
        self.process = self._spawn()
        return self

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_target(stack: ExitStack, target: str, log_dir: Path, *, broker: str = "",
                 count_broker: bool = False, label: str = "", features: Sequence[str] = ()) -> Child:
    """Start ``python -m bench.targets.<target>`` and stop it when ``stack`` closes;
    ``features`` become flags (``--history`` ..., see ``bench.targets.common.FEATURES``)."""
    port = free_port()
    args = [sys.executable, "-m", TARGETS[target], "--port", str(port)]
    if broker:
        args += ["--broker", broker]
    if count_broker:
        args.append("--count-broker")
    args += [f"--{feature}" for feature in features]
    name = f"{target}{label}"
    child = Child(name, args, port, log_dir / f"{name}-{port}.log")
    stack.callback(child.stop)
    return child


def start_redis(stack: ExitStack, log_dir: Path) -> Child:
    """A private, empty, non-persistent redis-server on a free port."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="wsns-bench-redis-"))
    child = Child("redis", [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", str(data_dir)],
                  port, log_dir / f"redis-{port}.log")
    stack.callback(shutil.rmtree, data_dir, True)
    stack.callback(child.stop)
    return child.wait_listening()


def redis_url(redis: Child) -> str:
    return f"redis://127.0.0.1:{redis.port}/0"


def redis_calls(redis: Child) -> dict[str, int]:
    """Commands the private redis-server has run since it started, by name
    (``INFO commandstats``); the difference of two readings is what a stage cost Redis."""
    import redis as redis_py

    with redis_py.Redis(port=redis.port, socket_timeout=10) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}
