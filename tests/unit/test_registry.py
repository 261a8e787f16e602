"""Namespace bookkeeping and subscriptions, over recording fakes of the broker calls."""

import asyncio

import pytest

from sanic_wsns.registry import OverCapacity, Registry


class Calls:
    """A broker double: records subscribe/unsubscribe calls and, as a broker would, holds a
    channel subscribed only once a subscribe *completed* (until an unsubscribe completed).
    Each direction can be held open by its own gate."""

    def __init__(self):
        self.log: list[tuple[str, str]] = []
        self.subscribed: set[str] = set()
        self.sub_gate = asyncio.Event()
        self.unsub_gate = asyncio.Event()
        self.sub_gate.set()
        self.unsub_gate.set()
        self.unsub_called = asyncio.Event()

    async def subscribe(self, channel):
        self.log.append(("sub", channel))
        await self.sub_gate.wait()
        self.subscribed.add(channel)

    async def unsubscribe(self, channel):
        self.log.append(("unsub", channel))
        self.unsub_called.set()
        await self.unsub_gate.wait()
        self.subscribed.discard(channel)


async def settle() -> None:
    """Let every ready task run a few steps (to show that something did *not* happen)."""
    for _ in range(10):
        await asyncio.sleep(0)


def registry(calls, linger=0.0, max_namespaces=10):
    return Registry(max_namespaces=max_namespaces, linger=linger,
                    subscribe=calls.subscribe, unsubscribe=calls.unsubscribe)


async def test_concurrent_get_or_create_builds_and_subscribes_once():
    calls = Calls()
    calls.sub_gate.clear()
    reg = registry(calls)
    built = []
    tasks = [asyncio.create_task(reg.get_or_create("/a", "c/a", lambda: built.append(1) or object()))
             for _ in range(5)]
    await settle()
    assert reg.get("/a") is None  # not published before the subscription is confirmed
    assert built == [] and calls.subscribed == set()
    calls.sub_gate.set()
    results = await asyncio.gather(*tasks)
    assert len({id(r) for r in results}) == 1 and built == [1]
    assert calls.log == [("sub", "c/a")]


async def test_drop_then_recreate_within_the_linger_reuses_the_subscription():
    calls = Calls()
    reg = registry(calls, linger=10)
    await reg.get_or_create("/a", "c/a", object)
    reg.drop("/a", "c/a")
    await reg.get_or_create("/a", "c/a", object)
    assert calls.log == [("sub", "c/a")]
    assert reg.channels == {"c/a"} and reg.pending == 0


async def test_a_recreate_waits_for_an_unsubscribe_in_flight_then_subscribes_again():
    calls = Calls()
    reg = registry(calls, linger=0)
    await reg.get_or_create("/a", "c/a", object)
    calls.unsub_gate.clear()
    reg.drop("/a", "c/a")
    recreate = asyncio.create_task(reg.get_or_create("/a", "c/a", object))
    await asyncio.wait_for(calls.unsub_called.wait(), 5)
    await settle()
    # no subscribe while the unsubscribe is in flight: it would complete first and be undone
    assert calls.log == [("sub", "c/a"), ("unsub", "c/a")] and not recreate.done()
    calls.unsub_gate.set()
    await asyncio.wait_for(recreate, 5)
    assert calls.log == [("sub", "c/a"), ("unsub", "c/a"), ("sub", "c/a")]
    assert calls.subscribed == {"c/a"} and reg.channels == {"c/a"}


async def test_after_the_linger_the_channel_is_released_and_nothing_is_pending():
    calls = Calls()
    reg = registry(calls, linger=0.01)
    await reg.get_or_create("/a", "c/a", object)
    reg.drop("/a", "c/a")
    assert reg.channels == {"c/a"}
    for _ in range(200):
        if reg.pending == 0:
            break
        await asyncio.sleep(0.01)
    assert reg.channels == frozenset() and reg.pending == 0
    assert calls.log == [("sub", "c/a"), ("unsub", "c/a")]


async def test_capacity_counts_namespaces_being_created():
    calls = Calls()
    reg = registry(calls, max_namespaces=1)
    calls.sub_gate.clear()
    first = asyncio.create_task(reg.get_or_create("/a", "c/a", object))
    await asyncio.sleep(0)
    with pytest.raises(OverCapacity):
        await reg.get_or_create("/b", "c/b", object)
    calls.sub_gate.set()
    await first


async def test_a_failed_subscription_fails_every_waiter_and_leaves_nothing_behind():
    async def failing(channel):
        await asyncio.sleep(0)
        raise ConnectionError("broker said no")

    reg = Registry(max_namespaces=5, linger=0, subscribe=failing, unsubscribe=failing)
    results = await asyncio.gather(*(reg.get_or_create("/a", "c/a", object) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert len(reg) == 0 and reg.pending == 0 and reg.channels == frozenset()


async def test_close_releases_every_channel():
    calls = Calls()
    reg = registry(calls, linger=10)
    await reg.get_or_create("/a", "c/a", object)
    await reg.get_or_create("/b", "c/b", object)
    reg.drop("/b", "c/b")
    await reg.close()
    assert reg.channels == frozenset() and reg.pending == 0 and len(reg) == 0
    assert sorted(c for op, c in calls.log if op == "unsub") == ["c/a", "c/b"]
