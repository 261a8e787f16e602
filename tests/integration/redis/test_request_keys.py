"""Request keys across two instances on one real Redis: a keyed request's handler runs at
most once per (namespace, user, key), whichever instance each copy reaches (core idea 12)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sanic_wsns import WsNamespaces, remote
from sanic_wsns.broker.redis_requests import request_key
from sanic_wsns.idempotency import request_name
from tests.integration.redis.test_metrics import scrape
from tests.support.keyed_app import Runs, keyed, keyed_app
from tests.support.servers import RunningServer, serve, wait_for
from tests.support.tcp_proxy import TcpProxy, tcp_proxy
from tests.support.wsclient import join, recv_json


@asynccontextmanager
async def two(url: str, runs: Runs, **settings: Any) -> AsyncIterator[tuple[Keyed, Keyed]]:
    async with AsyncExitStack() as stack:
        pair = []
        for _ in range(2):
            wsns = keyed_app(url, runs, **settings)
            pair.append(Keyed(wsns, await stack.enter_async_context(serve(wsns.app))))
        yield pair[0], pair[1]


@dataclass
class Keyed:
    wsns: WsNamespaces
    srv: RunningServer

    def ws(self, path: str) -> str:
        return self.srv.ws(path)

    def totals(self) -> dict[str, Any]:
        return self.wsns.stats()["totals"]


async def test_a_request_answered_on_one_instance_is_answered_again_on_the_other(redis_server):
    runs = Runs()
    async with two(redis_server.url, runs, metrics_url="/metrics") as (a, b):
        on_a, _ = await join(a.ws("/orders/1"))
        first = await keyed(on_a, "apply", "order-77", 1, {"qty": 1})
        await on_a.close()
        on_b, _ = await join(b.ws("/orders/1"))  # the reply was lost: the client came back elsewhere
        repeat = await keyed(on_b, "apply", "order-77", 2, {"qty": 1})
        assert repeat["data"] == first["data"] == {"run": 1, "data": {"qty": 1}}
        assert runs.counts == {"apply": 1}
        assert "wsns_idempotent_repeats_total 1.0" in await asyncio.to_thread(scrape, b.srv.http)
        await on_b.close()
    key = request_key("wsns:/orders/1", request_name("ann", "order-77"))
    assert 0 < int(redis_server.cli("PTTL", key)) <= 300_000  # kept for the window, no longer


async def test_concurrent_repeats_on_two_instances_run_once_and_both_get_the_answer(redis_server):
    runs = Runs()
    async with two(redis_server.url, runs) as (a, b):
        on_a, _ = await join(a.ws("/orders/1"))
        on_b, _ = await join(b.ws("/orders/1"))
        await on_a.send(json.dumps({"type": "hold", "id": 1, "key": "twice"}))
        await asyncio.wait_for(runs.holding.wait(), 5)
        await on_b.send(json.dumps({"type": "hold", "id": 5, "key": "twice"}))
        await wait_for(lambda: b.totals()["keyed_requests_in_flight"] == 1)  # b waits on a's run
        runs.gate.set()
        answers = [await recv_json(on_a), await recv_json(on_b)]
        assert [(x["type"], x["id"], x["data"]) for x in answers] == [("reply", 1, 1), ("reply", 5, 1)]
        assert runs.counts == {"hold": 1}
        assert b.totals()["idempotent_repeats"] == 1
        await on_a.close()
        await on_b.close()


async def test_without_redis_a_keyed_request_runs_and_its_repeats_here_get_the_first_answer(
        redis_server, caplog):
    """A broker outage never fails local work: the key is kept on this instance meanwhile,
    so a repeat here is answered once, during the outage and after it."""
    runs = Runs()
    async with two(redis_server.url, runs) as (a, _b):
        ws, _ = await join(a.ws("/orders/1"))
        redis_server.stop()
        try:
            first = await keyed(ws, "apply", "while-down", 1)
            assert first["type"] == "reply" and first["data"]["run"] == 1
            assert (await keyed(ws, "apply", "while-down", 2))["data"] == first["data"]
        finally:
            redis_server.start()
        await wait_for(lambda: a.wsns.broker.connected, timeout=15)
        await ws.send(json.dumps({"type": "apply", "id": 3, "key": "while-down"}))
        after = await recv_json(ws)
        if after["type"] == "resync":  # the broker is back: pages are told, then the reply
            after = await recv_json(ws)
        assert after["id"] == 3 and after["data"] == first["data"]
        assert runs.counts == {"apply": 1}
        assert "request keys kept on this instance only while the broker is away" in caplog.text
        await ws.close()


def through(proxy: TcpProxy, **options: Any) -> remote.connect:
    options = {"backoff_base": 0.01, "backoff_max": 0.05, "request_timeout": 10.0, "resync_jitter": 0,
               **options}
    return remote.connect(f"ws://127.0.0.1:{proxy.port}/orders/1", **options)


async def test_a_request_whose_reply_was_lost_is_sent_again_elsewhere_and_runs_once(redis_server):
    """The connection dies after the handler ran and before its reply arrived: the client
    comes back through the balancer to the other instance, sends the request again with its
    key, and gets the first run's answer."""
    runs = Runs()
    async with two(redis_server.url, runs) as (a, b), tcp_proxy(a.srv.port) as proxy, through(proxy) as ns:
        reply = asyncio.ensure_future(ns.request("hold"))
        await asyncio.wait_for(runs.holding.wait(), 5)  # running on a
        proxy.target_port = b.srv.port  # the next connection lands on b
        proxy.cut()
        runs.gate.set()  # a answers into a dead connection
        assert await asyncio.wait_for(reply, 10) == 1
        assert runs.counts == {"hold": 1}
        assert b.totals()["idempotent_repeats"] == 1


async def test_requests_under_random_cuts_between_two_instances_each_run_exactly_once(redis_server):
    """200 keyed requests, ten at a time, while the connection is cut at random moments and
    comes back to either instance: every request is answered and every handler ran once."""
    runs = Runs()
    chance = random.Random(21)
    # One client drives it all, reconnecting every few ms: lift the per-user limits.
    unlimited = {"rate_limit": 10_000.0, "rate_burst": 1_000, "connect_rate": None}
    async with two(redis_server.url, runs, **unlimited) as (a, b), tcp_proxy(a.srv.port) as proxy, \
            through(proxy) as ns:
        async def cutter() -> None:
            while True:
                await asyncio.sleep(chance.uniform(0.005, 0.05))  # the fault's timing, not a sync
                proxy.target_port = chance.choice((a, b)).srv.port
                proxy.cut()

        cutting = asyncio.ensure_future(cutter())
        limit = asyncio.Semaphore(10)

        async def one(n: int) -> dict[str, Any]:
            async with limit:
                if n % 40 == 39:  # cuts keep coming while requests run, however fast they go
                    await wait_for(lambda: proxy.connections > (n + 1) // 40 + 1, timeout=10)
                return await ns.request("apply", n)  # type: ignore[no-any-return]

        try:
            answers = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(200))), 60)
        finally:
            cutting.cancel()
        assert sorted(answer["data"] for answer in answers) == list(range(200))
        assert sorted(answer["run"] for answer in answers) == list(range(1, 201))
        assert runs.counts == {"apply": 200}
        assert proxy.connections > 5, "the connection was cut and came back several times"


async def test_during_a_redis_stall_a_keyed_request_is_answered_and_its_key_reaches_redis_after(redis_server):
    """A stalled Redis (a fork for a snapshot) holds up nothing: the request runs while
    Redis is paused, and its answer is written there once Redis wakes up, so a repeat on
    the other instance afterwards gets it too."""
    runs = Runs()
    async with two(redis_server.url, runs) as (a, b):
        on_a, _ = await join(a.ws("/orders/1"))
        redis_server.cli("CLIENT", "PAUSE", "3000", "ALL")
        await on_a.send(json.dumps({"type": "apply", "id": 1, "key": "stalled"}))
        first = await recv_json(on_a, timeout=2.0)  # inside the 3 s pause
        assert first["type"] == "reply" and first["data"]["run"] == 1
        await on_a.close()
        key = request_key("wsns:/orders/1", request_name("ann", "stalled"))
        await wait_for(lambda: redis_server.cli("GET", key).strip() != "", timeout=10)
        on_b, _ = await join(b.ws("/orders/1"))
        repeat = await keyed(on_b, "apply", "stalled", 2)
        assert repeat["data"] == first["data"] and runs.counts == {"apply": 1}
        await on_b.close()


def reads_processed(redis_server: Any) -> int:
    """Reads the redis-server did from its clients' sockets: a pipelined batch is one read."""
    stats = dict(line.split(":", 1) for line in redis_server.cli("INFO", "stats").split() if ":" in line)
    return int(stats["total_reads_processed"])


def claimed(redis_server: Any, keys: list[str]) -> int:
    """How many of the request ``keys`` are in Redis (claimed or answered)."""
    names = (request_key("wsns:/orders/1", request_name("ann", key)) for key in keys)
    return int(redis_server.cli("EXISTS", *names))


async def test_queued_keyed_requests_are_claimed_ahead_and_their_answers_share_batches(redis_server):
    """A client's handlers run one at a time. The keyed requests queued behind a running
    one are claimed as they arrive, not each with a round trip of its own when its turn
    comes; and an answer does not start a batch of its own either: it rides with the next
    one (the last goes by its timer). Forty requests: a handful of batches, not forty."""
    runs, count = Runs(), 40
    keys = [f"k{n}" for n in range(1, count + 1)]
    async with two(redis_server.url, runs) as (a, _b):
        ws, _ = await join(a.ws("/orders/1"))
        await ws.send(json.dumps({"type": "hold", "id": 100}))
        await asyncio.wait_for(runs.holding.wait(), 5)
        for n, key in enumerate(keys, 1):
            await ws.send(json.dumps({"type": "apply", "id": n, "key": key, "data": n}))
        await wait_for(lambda: claimed(redis_server, keys) == count, timeout=5)  # hold still runs
        before = reads_processed(redis_server)
        runs.gate.set()
        answers = [await recv_json(ws) for _ in range(count + 1)]
        assert [x["data"]["run"] for x in answers[1:]] == list(range(1, count + 1))
        last = request_key("wsns:/orders/1", request_name("ann", keys[-1]))
        await wait_for(lambda: redis_server.cli("GET", last).strip() != "", timeout=5)
        batches = reads_processed(redis_server) - before
        assert batches <= count // 2, batches  # a batch per answer: over forty
        for n, key in enumerate(keys, 1):
            kept = redis_server.cli("GET", request_key("wsns:/orders/1", request_name("ann", key)))
            assert json.loads(kept)["data"]["run"] == n
        await ws.close()


async def test_a_keyed_request_still_queued_when_its_connection_closes_runs_when_sent_again(redis_server):
    """Its claim was taken ahead, but it never ran: the claim is given back, so the re-send
    (on the other instance) runs it at once instead of waiting for an answer that will
    never come (then ``conflict`` for the whole window)."""
    runs = Runs()
    async with two(redis_server.url, runs) as (a, b):
        on_a, _ = await join(a.ws("/orders/1"))
        await on_a.send(json.dumps({"type": "hold", "id": 1}))
        await asyncio.wait_for(runs.holding.wait(), 5)
        await on_a.send(json.dumps({"type": "apply", "id": 2, "key": "queued", "data": 1}))  # behind hold
        await wait_for(lambda: claimed(redis_server, ["queued"]) == 1)  # claimed ahead, queued
        await on_a.close()
        runs.gate.set()  # hold ends; apply was dropped with its connection
        on_b, _ = await join(b.ws("/orders/1"))
        answer = await keyed(on_b, "apply", "queued", 3, 1)
        assert answer["type"] == "reply" and answer["data"] == {"run": 1, "data": 1}
        assert runs.counts == {"hold": 1, "apply": 1}
        await on_b.close()
