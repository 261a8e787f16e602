"""What history may hold in Redis: ``size`` frames and ``max_bytes`` per namespace, so the
memory of many busy namespaces is namespaces x max_bytes at most (docs/redis.md)."""

from __future__ import annotations

import asyncio

from sanic_wsns import History
from sanic_wsns.broker.redis_history import history_keys
from tests.support.bare_broker import bare_broker
from tests.support.instances import client, instances


def used_memory(redis_server) -> int:
    info = redis_server.cli("INFO", "memory")
    return int(next(line for line in info.splitlines() if line.startswith("used_memory:")).split(":")[1])


async def test_the_history_max_bytes_setting_bounds_each_stream(redis_server):
    """``WSNS_HISTORY_MAX_BYTES`` reaches the script through ``history=True``."""
    async with instances(redis_server.url, count=1, history=True, history_max_bytes=5000) as (a,), \
            client(a.ws("1")) as ws:
        for _ in range(10):
            await ws.edit("x" * 1000)
        for _ in range(10):
            await ws.next()
        stream, _ = history_keys("wsns:/maps/1")
        assert int(redis_server.cli("XLEN", stream)) == 4  # 4 frames of ~1 KB fit 5,000 bytes


async def test_many_busy_namespaces_hold_at_most_their_max_bytes_each(redis_server):
    """The report: 200 maps x 101 writes of ~3 KB added 73 MB. With max_bytes=16 KiB, 200
    namespaces x 30 writes of 3 KB (18 MB of frames) stay under 200 x (16 KiB + 8 KiB of
    stream overhead) = 4.8 MB."""
    history = History(max_bytes=16 * 1024)
    head = b'{"type":"t","data":"' + b"x" * 3000 + b'"'
    before = used_memory(redis_server)
    async with bare_broker(redis_server.url) as broker:
        for _ in range(30):
            await asyncio.gather(*(broker.publish_numbered(f"wsns:/m/{n}", head, b"m", history)
                                   for n in range(200)))
    assert used_memory(redis_server) - before < 200 * 24 * 1024
    assert int(redis_server.cli("XLEN", history_keys("wsns:/m/0")[0])) == 5  # 5 x 3 KB fit 16 KiB
