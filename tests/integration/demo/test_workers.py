"""bubblemap under several Sanic workers: refused on memory://, one deployment on Redis,
started by ``python -m demo_app --workers 2`` or by Sanic's own CLI with the factory."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.examples.conftest import START_TIMEOUT
from tests.support.demo import PASSWORD, map_client, sign_in
from tests.support.processes import ServerProcess
from tests.support.servers import wait_for


def test_several_workers_on_the_memory_broker_exit_2_naming_the_broker(tmp_path: Path):
    run = subprocess.run([sys.executable, "-m", "demo_app", "--workers", "2", "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "--workers 2 needs a Redis broker" in run.stderr and "memory://" in run.stderr


#: Rounds of ten concurrent pages before the test decides one worker takes them all (40
#: pages: within the demo's 50 connections per user).
ROUNDS = 4


@pytest.mark.parametrize("how", ["python -m demo_app", "sanic --factory"])
async def test_two_workers_on_redis_are_one_deployment(how: str, redis_server, tmp_path: Path):
    """Pages of one map land on both workers, and a change made through one reaches all of
    them. The workers share one listening socket, and the kernel hands a connection to
    whichever accepts first: opened one after another, every page can land on the same
    idle worker. So pages open ten at a time, while a worker is busy with a handshake the
    other accepts, until both workers hold some (a bounded number of rounds)."""
    db = str(tmp_path / "shared.db")
    if how == "python -m demo_app":
        argv = [sys.executable, "-m", "demo_app", "--port", "{port}", "--workers", "2",
                "--broker", redis_server.url, "--db", db]
        env = {}
    else:
        argv = [sys.executable, "-m", "sanic", "demo_app.app:create_app", "--factory", "--workers", "2",
                "--host", "127.0.0.1", "--port", "{port}", "--no-motd"]
        env = {"BUBBLEMAP_BROKER": redis_server.url, "BUBBLEMAP_DB": db}
    server = ServerProcess(argv, ready_path="/api/1/session", env=env,
                           name="bubblemap-workers").start(timeout=START_TIMEOUT)
    try:
        # The first worker answers before the second listens: wait for both.
        await wait_for(lambda: server.workers_ready() == 2, timeout=START_TIMEOUT)
        ann = await sign_in(server, "ann", PASSWORD)
        map_id = (await ann.call("POST", "/api/1/maps", {"title": "split?"})).data["id"]
        async with map_client(ann, map_id) as writer:
            reader = await sign_in(server, "reader", PASSWORD)
            readers, opened = [], []
            try:
                for _ in range(ROUNDS):
                    batch = [map_client(reader, map_id) for _ in range(10)]
                    opened += await asyncio.gather(*(r.__aenter__() for r in batch))
                    readers += batch
                    workers = {r.welcome["client_id"].rsplit("-", 1)[0] for r in [writer, *opened]}
                    if len(workers) == 2:
                        break
                assert len(workers) == 2, f"all {len(opened) + 1} pages landed on one worker"
                bubble = {"x": 1, "y": 1, "text": "to everyone", "color": "#000000"}
                created = await writer.request("bubble-create", bubble)
                got = await asyncio.gather(*(r.next("bubble-created") for r in opened))
                assert all(g["id"] == created["data"]["id"] for g in got)
            finally:
                for r in readers:
                    await r.__aexit__(None, None, None)
    finally:
        server.stop()


async def test_the_demo_serves_metrics_when_asked(tmp_path: Path):
    """``--metrics``: Prometheus text at /metrics, with the map pattern as label."""
    server = ServerProcess(
        [sys.executable, "-m", "demo_app", "--port", "{port}", "--metrics", "--db", str(tmp_path / "m.db")],
        ready_path="/api/1/session", name="bubblemap-metrics").start(timeout=START_TIMEOUT)
    try:
        ann = await sign_in(server, "ann", PASSWORD)
        map_id = (await ann.call("POST", "/api/1/maps", {"title": "counted"})).data["id"]
        async with map_client(ann, map_id):
            metrics = await ann.call("GET", "/metrics")
            assert metrics.status == 200
            assert b'wsns_connections{pattern="/api/1/ws/bubblemap/<map_id:int>"} 1.0' in metrics.body
    finally:
        server.stop()
