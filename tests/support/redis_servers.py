"""Real ``redis-server`` processes for tests, on free loopback ports.

A test can stop, kill and restart a server on the same port (the broker must
reconnect by itself). No persistence: each server starts empty.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServerProcess

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def pong(port: int) -> bool:
    """Whether the redis-server on ``port`` answers ``PING`` (it accepts connections a
    moment before it serves them)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` child process bound to 127.0.0.1:``port``, empty at each start;
    ``log_dir`` keeps its output (bench does), else it is dropped."""

    def __init__(self, port: int | None = None, *extra_args: str, log_dir: Path | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="wsns-redis-"))
        self.server = ServerProcess(
            [REDIS_SERVER, "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), *extra_args],
            port=port, ready=pong, name="redis", log_dir=log_dir)
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.server.start(timeout)
        return self

    def running(self) -> bool:
        return not self.server.ended()

    def stop(self) -> None:
        """Terminate gracefully and wait."""
        self.server.stop()

    def kill(self) -> None:
        """SIGKILL: the broker sees the connection drop with no goodbye."""
        self.server.kill()

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
    """A local Redis Cluster: ``masters`` masters with ``replicas`` replicas each, every node
    a ``RedisServer``, so a test can kill a master and watch its replica take over.

    Ports come from ``free_port`` like the single server's; the cluster bus uses port+10000,
    so a port is kept only if that one is free too (and below 55536). A node timeout of 1 s
    keeps a failover under about 3 s; a replica validity factor of 0 lets a freshly built
    replica take over (else it may judge its data too old and refuse).
    """

    def __init__(self, masters: int = 3, replicas: int = 1):
        self.replicas = replicas
        self.nodes = [RedisServer(_port_with_free_bus(), "--cluster-enabled", "yes",
                                  "--cluster-config-file", "nodes.conf",
                                  "--cluster-node-timeout", "1000",
                                  "--cluster-replica-validity-factor", "0")
                      for _ in range(masters * (1 + replicas))]

    @property
    def url(self) -> str:
        """The broker URL: one seed node is enough, the client discovers the rest."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 60.0) -> RedisCluster:
        for node in self.nodes:
            node.start()
        subprocess.run(["redis-cli", "--cluster", "create",
                        *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, text=True, timeout=timeout)
        wait_until(lambda: all(self._ready(n) for n in self.nodes), timeout,
                   "cluster state ok with every replica in sync")
        return self

    def _ready(self, node: RedisServer) -> bool:
        info = node.cli("CLUSTER", "INFO")
        replication = node.cli("INFO", "replication")
        return ("cluster_state:ok" in info and f"cluster_known_nodes:{len(self.nodes)}" in info
                and ("role:master" in replication or "master_link_status:up" in replication))

    def alive(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.running()]

    def _table(self) -> list[list[str]]:
        """``CLUSTER NODES`` as seen by a live node, one list of fields per node."""
        return [line.split() for line in self.alive()[0].cli("CLUSTER", "NODES").splitlines()]

    def _by_address(self, address: str) -> RedisServer:
        port = int(address.split("@")[0].rsplit(":", 1)[1])
        return next(n for n in self.nodes if n.port == port)

    def node_id(self, node: RedisServer) -> str:
        return node.cli("CLUSTER", "MYID").strip()

    def slot(self, key: str) -> int:
        return int(self.alive()[0].cli("CLUSTER", "KEYSLOT", key))

    def node_for(self, key: str) -> RedisServer:
        """The master that owns ``key``'s slot (asked of the cluster, not computed here)."""
        return self.owner_of(self.slot(key))

    def owner_of(self, slot: int) -> RedisServer:
        for fields in self._table():
            for span in fields[8:]:
                if span.startswith("["):
                    continue  # a slot being imported or migrated, listed by its old owner too
                low, _, high = span.partition("-")
                if int(low) <= slot <= int(high or low):
                    return self._by_address(fields[1])
        raise LookupError(f"no master owns slot {slot}")

    def masters(self) -> list[RedisServer]:
        """The masters that own slots now."""
        return [self._by_address(f[1]) for f in self._table() if "master" in f[2] and f[8:]]

    def replica_of(self, master: RedisServer) -> RedisServer:
        master_id = self.node_id(master)
        return next(self._by_address(f[1]) for f in self._table() if f[3] == master_id)

    def move_slot(self, slot: int, target: RedisServer) -> None:
        """Reshard: move ``slot`` (and its keys) to ``target``, as ``redis-cli --cluster
        reshard`` does for each slot: importing, migrating, keys, then the new owner
        announced to every master."""
        source = self.owner_of(slot)
        source_id, target_id = self.node_id(source), self.node_id(target)
        target.cli("CLUSTER", "SETSLOT", str(slot), "IMPORTING", source_id)
        source.cli("CLUSTER", "SETSLOT", str(slot), "MIGRATING", target_id)
        while keys := source.cli("CLUSTER", "GETKEYSINSLOT", str(slot), "100").split():
            source.cli("MIGRATE", "127.0.0.1", str(target.port), "", "0", "5000", "KEYS", *keys)
        for node in [target, source, *(m for m in self.masters() if m not in (target, source))]:
            node.cli("CLUSTER", "SETSLOT", str(slot), "NODE", target_id)

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
    """A fresh Redis Cluster (three masters, a replica each) for one test, torn down afterwards."""
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.close()
