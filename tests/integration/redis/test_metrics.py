"""The metrics route on real servers: counts, bounded labels, latencies, and Sanic workers
summed through the real CLI."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request

from websockets.asyncio.client import connect

from tests.integration.examples.conftest import START_TIMEOUT, examples_cli
from tests.support.instances import PATTERN, edit, frame, instances, until
from tests.support.redis_servers import RedisServer
from tests.support.servers import wait_for


def scrape(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_connections_messages_and_refusals_by_pattern_never_by_id(redis_server):
    async with instances(redis_server.url, metrics_url="/metrics") as (a, b), \
            connect(a.ws("7")) as one, connect(a.ws("8")) as two, connect(b.ws("7")) as three:
        for ws in (one, two, three):
            await frame(ws)
        await edit(one, "hello")
        for ws in (one, three):
            assert (await frame(ws))["type"] == "edited"
        text = await asyncio.to_thread(scrape, a.srv.http)
        assert value(text, 'wsns_connections{pattern="/maps/<map_id:str>"}') == 2
        assert value(text, 'wsns_namespaces{pattern="/maps/<map_id:str>"}') == 2
        assert value(text, 'wsns_messages_received_total{pattern="/maps/<map_id:str>"}') == 1
        assert value(text, "wsns_broker_up") == 1
        assert value(text, "wsns_broadcast_seconds_count") >= 1
        assert "/maps/7" not in text and "/maps/8" not in text  # labels: a pattern, never an id
        lag = await asyncio.to_thread(scrape, b.srv.http)
        assert value(lag, "wsns_pubsub_lag_seconds_count") >= 1  # a's publish, delivered on b


async def test_refusals_are_counted_by_close_code(redis_server):
    async with instances(redis_server.url, count=1, metrics_url="/metrics") as (a,):
        async with connect(a.ws("1"), origin="http://evil.example") as refused:
            await refused.wait_closed()
        text = await asyncio.to_thread(scrape, a.srv.http)
        assert value(text, 'wsns_refusals_total{code="4403"}') == 1


async def test_gauges_fall_to_zero_when_the_last_client_leaves(redis_server):
    async with instances(redis_server.url, count=1, presence=True, metrics_url="/metrics") as (a,):
        async with connect(a.ws("7")) as ws:
            await until(ws, "presence_state")
            text = await asyncio.to_thread(scrape, a.srv.http)
            assert value(text, f'wsns_presence_members{{pattern="{PATTERN}"}}') == 1
        await wait_for(lambda: a.totals["namespaces"] == 0)
        text = await asyncio.to_thread(scrape, a.srv.http)
        for gauge in ("wsns_connections", "wsns_namespaces", "wsns_presence_members"):
            assert f'{gauge}{{pattern="{PATTERN}"}} 0.0' in text, gauge


async def test_two_sanic_workers_report_their_sum_then_zero_once_everyone_left(redis_server):
    """The real CLI, two workers on Redis: whichever worker Prometheus reaches reports the
    connections of both, and no worker keeps counting a client that left."""
    env = {"SANIC_WSNS_BROKER": redis_server.url, "SANIC_WSNS_METRICS_URL": "/metrics"}
    with examples_cli() as start:
        server = start("examples.quickstart:app", "--workers", "2", env=env)
        await wait_for(lambda: server.workers_ready() == 2, timeout=START_TIMEOUT)
        sockets = [await connect(server.ws(f"/ws/rooms/{n}"), additional_headers={"Cookie": f"user=p{n}"})
                   for n in range(12)]
        try:
            welcomes = [json.loads(await ws.recv()) for ws in sockets]
            workers = {w["data"]["client_id"].rsplit("-", 1)[0] for w in welcomes}

            def counted() -> float:
                text = scrape(server.http)
                return sum(float(v) for v in re.findall(r"^wsns_connections\{[^}]*\} (\S+)$", text, re.M))

            await wait_for(lambda: counted() == 12, timeout=10)
            assert len(workers) == 2, "the twelve connections landed on one worker"
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))
        await wait_for(lambda: counted() == 0, timeout=10)  # each worker syncs once a second


async def test_broker_up_is_zero_while_one_worker_has_lost_redis(redis_server):
    """Two workers, each on its own Redis; one Redis dies: the scrape (whichever worker
    answers it) says the deployment is not all up."""
    other = RedisServer().start()
    env = {"WSNS_TEST_WORKER_BROKERS": f"{redis_server.url},{other.url}",
           "SANIC_WSNS_METRICS_URL": "/metrics"}
    try:
        with examples_cli() as start:
            server = start("tests.support.split_broker_app:app", "--workers", "2", env=env)
            await wait_for(lambda: server.workers_ready() == 2, timeout=START_TIMEOUT)

            def up() -> float:
                return value(scrape(server.http), "wsns_broker_up")

            await wait_for(lambda: up() == 1, timeout=10)
            other.kill()
            await wait_for(lambda: up() == 0, timeout=10)
    finally:
        other.close()
