"""The occupancy rules without I/O: memory:// last-seen retention and leases on a fake
clock, and the per-instance counting that decides what is written."""

from __future__ import annotations

import asyncio

from sanic_wsns.broker.memory_presence import MemoryOccupancy
from sanic_wsns.occupancy import CLAIM_LIMIT, Occupancy, status, user_name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_released_user_is_forgotten_after_the_retention():
    clock = Clock()
    store = MemoryOccupancy(clock)
    await store.seen("d:", '"ann"', "i1", False, None, keep=10)
    clock.now += 5
    assert await store.online("d:", ['"ann"'], 30) == {'"ann"': (False, 1000.0)}
    clock.now += 6
    assert await store.online("d:", ['"ann"'], 30) == {'"ann"': (False, None)}


async def test_a_sweep_claims_at_most_the_limit_and_a_lease_ends():
    clock = Clock()
    store = MemoryOccupancy(clock)
    for n in range(CLAIM_LIMIT + 5):
        await store.hold("d:", f"i{n}", 1, ([], []), ([], []))
    clock.now += 2
    assert len(await store.claim("d:", lease=10, limit=CLAIM_LIMIT)) == CLAIM_LIMIT
    assert len(await store.claim("d:", lease=10, limit=CLAIM_LIMIT)) == 5
    assert await store.claim("d:", lease=10, limit=CLAIM_LIMIT) == []
    clock.now += 11  # the sweepers died mid-way: their leases end, another takes over
    assert len(await store.claim("d:", lease=10, limit=1000)) == CLAIM_LIMIT + 5


def test_the_status_of_a_user_held_by_a_dead_instance_is_its_last_refresh():
    assert status([("i1", "inf")], {"i1": 2000.0}, now=1500.0, lifetime=60) == (True, 1500.0)
    assert status([("i1", "inf")], {"i1": 1400.0}, now=1500.0, lifetime=60) == (False, 1340.0)
    assert status([("i1", "inf"), ("i2", "1450000")], {"i1": -1}, now=1500.0, lifetime=60) == (False, 1450.0)


def test_users_are_named_by_their_json_so_7_and_the_string_7_differ():
    assert user_name(7) == "7" and user_name("7") == '"7"'
    assert user_name(None) is None and user_name(True) is None and user_name(("a",)) is None


async def test_a_user_joining_and_leaving_within_a_window_writes_nothing_about_it():
    store = MemoryOccupancy()
    changes: list[tuple[str, bool]] = []
    occupancy = Occupancy(store, "d:", "me", lambda ch, occupied: changes.append((ch, occupied)),
                          ttl=30, keep=60, window=10)
    occupancy.join("ch", "c1", "ann")  # the first change goes at once
    occupancy.join("ch", "c2", "bob")
    occupancy.leave("ch", "c2")  # within the window: bob is never written
    while occupancy._flushing is not None or occupancy._timer is not None:
        if occupancy._timer is not None:
            occupancy._timer.cancel()
            occupancy._flush_now()
        await asyncio.gather(occupancy._flushing)  # type: ignore[arg-type]
    assert changes == [("ch", True)]
    assert await store.count("ch") == (1, 1)
    assert (await store.online("d:", ['"bob"'], 30))['"bob"'] == (False, None)
    await occupancy.close()
    assert changes == [("ch", True), ("ch", False)]
    assert (await store.online("d:", ['"ann"'], 30))['"ann"'][0] is False


async def test_an_anonymous_connection_counts_as_a_connection_not_a_user():
    store = MemoryOccupancy()
    occupancy = Occupancy(store, "d:", "me", lambda ch, occupied: None, ttl=30, keep=60)
    occupancy.join("ch", "c1", None)
    occupancy.join("ch", "c2", "ann")
    occupancy.join("ch", "c3", "ann")
    while occupancy._flushing is not None:
        await asyncio.gather(occupancy._flushing)
    assert await store.count("ch") == (3, 1)
    await occupancy.close()


async def test_only_the_newest_release_of_a_user_is_kept():
    clock = Clock()
    store = MemoryOccupancy(clock)
    for instance in ("i1", "i2"):  # the same instant
        await store.seen("d:", '"ann"', instance, False, None, keep=60)
    await store.seen("d:", '"ann"', "dead", False, 10.0, keep=60)  # a sweeper's older report
    assert store._seen[("d:", '"ann"')] == {"i1": 1000.0}
    assert await store.online("d:", ['"ann"'], 30) == {'"ann"': (False, 1000.0)}

