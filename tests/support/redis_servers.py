"""Real ``redis-server`` processes for tests, on free loopback ports.

A test can stop, kill and restart a server on the same port (the broker must
reconnect by itself). No persistence: each server starts empty.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """One ``redis-server`` child process bound to 127.0.0.1:``port``."""

    def __init__(self, port: int | None = None, *extra_args: str):
        self.port = port or free_port()
        self.extra_args = extra_args
        self.dir = Path(tempfile.mkdtemp(prefix="wsns-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Terminate gracefully and wait."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL: the broker sees the connection drop with no goodbye."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()

    def cli(self, *args: str) -> str:
        """Run ``redis-cli`` against this server (e.g. ``PUBSUB NUMSUB ch``)."""
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis_server():
    """A fresh redis-server for one test; stopped afterwards whatever the test did to it."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


class RedisCluster:
    """A local Redis Cluster of three masters (no replicas), each a ``RedisServer``.

    Ports come from ``free_port`` like the single server's; the cluster bus uses port+10000,
    so a port is kept only if that one is free too.
    """

    def __init__(self, size: int = 3):
        self.nodes = [RedisServer(_port_with_free_bus(), "--cluster-enabled", "yes",
                                  "--cluster-config-file", "nodes.conf",
                                  "--cluster-node-timeout", "2000") for _ in range(size)]

    @property
    def url(self) -> str:
        """The broker URL: one seed node is enough, the client discovers the rest."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 20.0) -> RedisCluster:
        for node in self.nodes:
            node.start()
        subprocess.run(["redis-cli", "--cluster", "create",
                        *(f"127.0.0.1:{n.port}" for n in self.nodes), "--cluster-yes"],
                       check=True, capture_output=True, text=True, timeout=timeout)
        deadline = time.monotonic() + timeout
        while any("cluster_state:ok" not in n.cli("CLUSTER", "INFO") for n in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster did not reach state ok within {timeout}s")
            time.sleep(0.05)
        return self

    def node_for(self, key: str) -> RedisServer:
        """The master that owns ``key``'s slot (asked of the cluster, not computed here)."""
        slot = int(self.nodes[0].cli("CLUSTER", "KEYSLOT", key))
        for line in self.nodes[0].cli("CLUSTER", "NODES").splitlines():
            fields = line.split()
            address, ranges = fields[1].split("@")[0], fields[8:]
            for span in ranges:
                low, _, high = span.partition("-")
                if int(low) <= slot <= int(high or low):
                    port = int(address.rsplit(":", 1)[1])
                    return next(n for n in self.nodes if n.port == port)
        raise LookupError(f"no master owns slot {slot}")

    def close(self) -> None:
        for node in self.nodes:
            node.close()


def _port_with_free_bus() -> int:
    while True:
        port = free_port()
        if port + 10000 < 65536:
            try:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue


@pytest.fixture
def redis_cluster():
    """A fresh three-master Redis Cluster for one test, torn down afterwards."""
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.close()
