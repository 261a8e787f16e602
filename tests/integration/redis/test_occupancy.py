"""Occupancy, online status and the once-per-deployment hooks, on memory:// and Redis, over
real instances: ``wsns.online(users)``, ``wsns.occupancy(path)``, ``@on_occupied`` /
``@on_vacated`` under churn on two instances, and a ``kill -9``ed instance's share taken
back within the ttl."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from websockets.asyncio.client import connect

from sanic_wsns import BrokerUnavailable
from sanic_wsns.broker.redis_presence import instance_keys
from tests.support.instance_process import InstanceProcess
from tests.support.instances import Instance, frame, instances
from tests.support.refreshes import SWEPT_WITHIN, landed_refresh, members

T = TypeVar("T")

#: Seconds: Redis scores times in whole ms, the test reads them as floats.
CLOCK_ROUNDING = 0.002


async def eventually(read: Callable[[], Awaitable[T]], wanted: Callable[[T], bool],
                     timeout: float = 5.0) -> T:
    """Read until ``wanted`` holds (the broker is written a window after a change, by
    another instance maybe: nothing here can be awaited but the answer)."""
    async with asyncio.timeout(timeout):
        while not wanted(value := await read()):
            await asyncio.sleep(0.02)
    return value


def record_hooks(*running: Instance) -> list[tuple[str, str]]:
    """Every instance's pattern appends ``("occupied" | "vacated", path)`` to one list."""
    events: list[tuple[str, str]] = []
    for instance in running:
        [maps] = instance.wsns.patterns

        @maps.on_occupied
        def occupied(path: str, params: dict[str, Any]) -> None:
            assert params == {"map_id": path.rsplit("/", 1)[1]}
            events.append(("occupied", path))

        @maps.on_vacated
        async def vacated(path: str, params: dict[str, Any]) -> None:
            events.append(("vacated", path))
    return events


async def test_a_user_is_online_while_any_instance_holds_a_connection_of_it(broker):
    async with instances(broker) as (a, b):
        assert await a.wsns.online(["ann", "never", 7]) == {
            "ann": {"online": False, "last_seen": None}, "never": {"online": False, "last_seen": None},
            7: {"online": False, "last_seen": None}}
        async with connect(a.ws("1", "name=ann")) as first:
            await frame(first)
            await eventually(lambda: b.wsns.online(["ann"]), lambda s: s["ann"]["online"])
            async with connect(b.ws("2", "name=ann")) as second:  # another instance and namespace
                await frame(second)
                await first.close()
                await eventually(lambda: a.wsns.occupancy("/maps/1"), lambda o: o["connections"] == 0)
                assert (await a.wsns.online(["ann"]))["ann"]["online"] is True
                left = time.time()
        status = await eventually(lambda: a.wsns.online(["ann"]), lambda s: not s["ann"]["online"])
        assert left - 1 <= status["ann"]["last_seen"] <= time.time() + 1


async def test_occupancy_counts_connections_and_distinct_users_over_every_instance(broker):
    async with instances(broker) as (a, b):
        assert await a.wsns.occupancy("/maps/3") == {"connections": 0, "users": 0}
        async with connect(a.ws("3", "name=ann")) as one, connect(b.ws("3", "name=ann")) as two, \
                connect(b.ws("3", "name=bob")) as three:
            for ws in (one, two, three):
                await frame(ws)
            wanted = {"connections": 3, "users": 2}
            for wsns in (a.wsns, b.wsns):
                await eventually(functools.partial(wsns.occupancy, "/maps/3"), lambda o: o == wanted)
            await two.close()
            after_two = {"connections": 2, "users": 2}
            await eventually(lambda: a.wsns.occupancy("/maps/3"), lambda o: o == after_two)
            await one.close()
            after_one = {"connections": 1, "users": 1}
            await eventually(lambda: a.wsns.occupancy("/maps/3"), lambda o: o == after_one)
        await eventually(lambda: b.wsns.occupancy("/maps/3"), lambda o: o == {"connections": 0, "users": 0})


async def test_occupied_and_vacated_alternate_once_per_deployment_under_churn(broker):
    """100 clients joining and leaving at random over two instances, in waves: the hooks
    alternate (never twice in a row), and each wave ends vacated."""
    rng = random.Random(27)
    async with instances(broker) as (a, b):
        events = record_hooks(a, b)

        async def visit(n: int) -> None:
            instance = rng.choice((a, b))
            async with connect(instance.ws("7", f"name=u{n % 7}")) as ws:
                await frame(ws)
                await asyncio.sleep(rng.random() * 0.08)

        for wave in range(10):
            await asyncio.gather(*(visit(wave * 10 + n) for n in range(10)))
            await eventually(lambda: _last(events), lambda last: last == ("vacated", "/maps/7"), timeout=10)
        kinds = [kind for kind, _ in events]
        # A client that comes and goes within one write window (50 ms) is never written, so
        # a wave may pass unreported; those that are reported pair up.
        assert kinds[0] == "occupied" and len(kinds) >= 2
        assert all(x != y for x, y in itertools.pairwise(kinds)), kinds
        assert await a.wsns.occupancy("/maps/7") == {"connections": 0, "users": 0}


async def _last(events: list[tuple[str, str]]) -> tuple[str, str] | None:
    return events[-1] if events else None


async def test_a_killed_instance_s_last_client_is_vacated_once_and_its_user_goes_offline(redis_server):
    """kill -9 of the only instance holding a namespace's client and a user's connection,
    right after one of its refreshes landed (its writes live longest): the user is offline
    and ``on_vacated`` has run, once, on one of the live instances, both within the ttl of
    the kill (``liveness.py``: dead 2 ttl / 3 after the last refresh, swept within a sixth
    more); its last-seen time is that refresh."""
    ttl = 6.0
    victim = InstanceProcess(redis_server.url, presence_ttl=ttl)
    try:
        async with instances(redis_server.url, presence_ttl=ttl) as (a, b):
            events = record_hooks(a, b)
            async with connect(victim.ws("9", "name=doomed")) as ws:
                await frame(ws)
                await eventually(lambda: a.wsns.online(["doomed"]), lambda s: s["doomed"]["online"])
                await eventually(lambda: a.wsns.occupancy("/maps/9"), lambda o: o["connections"] == 1)
                every = instance_keys(a.wsns.settings.channel_prefix, "")[0]
                [doomed] = await members(redis_server.url, every) - {a.wsns.instance_id, b.wsns.instance_id}
                landed_from, landed_by = await landed_refresh(redis_server.url, every, doomed, timeout=ttl)
                victim.kill()
                killed = time.time()
            status = await eventually(lambda: b.wsns.online(["doomed"]),
                                      lambda s: not s["doomed"]["online"], timeout=ttl * 3)
            assert time.time() - killed < ttl * SWEPT_WITHIN
            assert landed_from - CLOCK_ROUNDING <= status["doomed"]["last_seen"] <= landed_by + CLOCK_ROUNDING
            await eventually(lambda: _last(events), lambda last: last == ("vacated", "/maps/9"),
                             timeout=ttl * 3)
            assert time.time() - killed < ttl * SWEPT_WITHIN
            assert await a.wsns.occupancy("/maps/9") == {"connections": 0, "users": 0}
            swept = (await b.wsns.online(["doomed"]))["doomed"]  # the sweeper wrote it: same time
            assert swept == {"online": False, "last_seen": status["doomed"]["last_seen"]}
            await asyncio.sleep(ttl / 3)  # two more sweeps: nobody reports it again
            assert events == [("vacated", "/maps/9")]
    finally:
        victim.kill()


async def test_after_redis_restarts_empty_the_instances_write_their_shares_again(redis_server):
    ttl = 3.0
    async with instances(redis_server.url, presence_ttl=ttl) as (a, b), \
            connect(a.ws("6", "name=ann")) as ann, connect(b.ws("6")) as anyone:
        for ws in (ann, anyone):
            await frame(ws)
        wanted = {"connections": 2, "users": 2}
        await eventually(functools.partial(a.wsns.occupancy, "/maps/6"), lambda o: o == wanted)
        redis_server.restart()

        async def occupancy() -> dict[str, int] | None:
            try:
                return await b.wsns.occupancy("/maps/6")
            except BrokerUnavailable:  # its connections to Redis are reopened first
                return None

        await eventually(occupancy, lambda o: o == wanted, timeout=ttl * 3)
        assert (await b.wsns.online(["ann"]))["ann"]["online"] is True



async def test_a_hook_that_raises_is_logged_in_one_line_and_the_next_hook_still_runs(caplog):
    async with instances("memory://occupancy-failing-hook", count=1) as (a,):
        [maps] = a.wsns.patterns
        ran: list[str] = []

        @maps.on_occupied
        def broken(path: str, params: dict[str, Any]) -> None:
            raise RuntimeError("the app's bug")

        @maps.on_occupied
        def after(path: str, params: dict[str, Any]) -> None:
            ran.append(path)

        with caplog.at_level(logging.ERROR, logger="sanic_wsns"):
            async with connect(a.ws("5")) as ws:
                await frame(ws)
                await eventually(_ran(ran), lambda paths: paths == ["/maps/5"])
        assert [r.getMessage() for r in caplog.records if r.name == "sanic_wsns"] == [
            "broken failed path=/maps/5"]


def _ran(ran: list[str]) -> Callable[[], Awaitable[list[str]]]:
    async def read() -> list[str]:
        return ran
    return read
