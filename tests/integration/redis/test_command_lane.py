"""The publishing writer's own connection (``CommandLane``) on a real redis-server: one
reply per command in order, an error reply in its place, a silent connection that fails
its batch in bounded time and is replaced, and one Redis closed that is replaced before
the next batch is written to it."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError, ResponseError

import sanic_wsns.broker.redis as redis_broker
from sanic_wsns.broker.redis_lane import CommandLane
from sanic_wsns.errors import BrokerUnavailable
from sanic_wsns.recovery import Position
from tests.support.bare_broker import CHANNEL, bare_broker, numbered
from tests.support.servers import wait_for
from tests.support.tcp_proxy import tcp_proxy

#: Bound on every wait below; the lane's own timeout is far shorter.
WAIT = 10.0


def lane_to(port: int, timeout: float = 5.0) -> CommandLane:
    return CommandLane(lambda: Connection(host="127.0.0.1", port=port, protocol=2), timeout)


async def test_a_batch_gets_its_replies_in_order_with_errors_in_their_place(redis_server):
    lane = lane_to(redis_server.port)
    try:
        replies = await lane.send([
            ("SET", "k", "text"),
            ("INCR", "k"),  # an error reply: the value is not a number
            ("ECHO", b"\x00\xff binary"),
            ("EVALSHA", "0" * 40, 0),  # a script Redis never saw
            ("RPUSH", "l", 1, 2),
        ])
    finally:
        await lane.close()
    assert replies[0] == b"OK"
    assert isinstance(replies[1], ResponseError)
    assert replies[2] == b"\x00\xff binary"
    assert isinstance(replies[3], NoScriptError)  # the writer loads the script on this one
    assert replies[4] == 2


async def test_a_silent_connection_fails_its_batch_in_time_and_the_next_batch_reconnects(redis_server):
    async with tcp_proxy(redis_server.port) as proxy:
        lane = lane_to(proxy.port, timeout=0.5)
        try:
            assert await lane.send([("PING",)]) == [b"PONG"]
            proxy.freeze()
            silent = asyncio.ensure_future(lane.send([("PING",)]))
            done, _ = await asyncio.wait([silent], timeout=WAIT)
            assert done, "the batch still waits on a silent connection"
            assert isinstance(silent.exception(), TimeoutError)
            assert await asyncio.wait_for(lane.send([("PING",)]), WAIT) == [b"PONG"]
            assert proxy.connections == 2
        finally:
            await lane.close()


async def test_a_history_broadcast_over_a_silent_connection_raises_and_the_next_one_is_numbered(
        redis_server, monkeypatch):
    monkeypatch.setattr(redis_broker, "COMMAND_TIMEOUT", 0.5)
    # The pub/sub link goes through the proxy too; a long probe keeps it out of the way.
    async with tcp_proxy(redis_server.port) as proxy, \
            bare_broker(proxy.url() + "?probe_interval=60") as broker:
        first = await numbered(broker)
        proxy.freeze()
        with pytest.raises(BrokerUnavailable):
            await numbered(broker)
        after = await numbered(broker)
    # The lost one may or may not have reached Redis; either way the count goes on.
    assert after.epoch == first.epoch and after.offset > first.offset


async def test_a_connection_redis_closed_while_idle_is_replaced_before_the_next_broadcast(redis_server):
    """Redis's idle ``timeout`` (managed services set one) closes the writer's connection
    between two broadcasts: the next broadcast goes out on a new one, not lost on the old."""
    async with bare_broker(redis_server.url) as broker:
        await broker.subscribe(CHANNEL)  # a subscribed link is exempt from the timeout
        first = await numbered(broker)
        redis_server.cli("CONFIG", "SET", "timeout", "1")
        await wait_for(lambda: "cmd=evalsha" not in redis_server.cli("CLIENT", "LIST", "TYPE", "normal"),
                       timeout=WAIT)
        after = await numbered(broker)
    assert after == Position(first.offset + 1, first.epoch)
