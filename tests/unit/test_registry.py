"""Namespace bookkeeping and subscriptions, over recording fakes of the broker calls."""

import asyncio

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sanic_wsns.errors import OverCapacity
from sanic_wsns.registry import Registry


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


async def test_a_cancelled_creator_neither_fails_the_others_nor_stops_the_creation():
    """The connection that started a creation is reset while the subscription is pending
    (Sanic cancels its handler): the others waiting for the same namespace get it, and
    it is hosted and subscribed; ``settle`` finds it for whoever must drop it if unused."""
    calls = Calls()
    calls.sub_gate.clear()
    reg = registry(calls)
    creator = asyncio.create_task(reg.get_or_create("/a", "c/a", object))
    await settle()
    waiter = asyncio.create_task(reg.get_or_create("/a", "c/a", object))
    settling = asyncio.create_task(reg.settle("/a"))
    await settle()
    creator.cancel()
    await settle()
    calls.sub_gate.set()
    namespace = await asyncio.wait_for(waiter, 5)
    assert await asyncio.wait_for(settling, 5) is namespace is reg.get("/a")
    assert calls.subscribed == {"c/a"} and reg.channels == {"c/a"} and reg.pending == 0


async def test_close_releases_every_channel():
    calls = Calls()
    reg = registry(calls, linger=10)
    await reg.get_or_create("/a", "c/a", object)
    await reg.get_or_create("/b", "c/b", object)
    reg.drop("/b", "c/b")
    await reg.close()
    assert reg.channels == frozenset() and reg.pending == 0 and len(reg) == 0
    assert sorted(c for op, c in calls.log if op == "unsub") == ["c/a", "c/b"]


# -- the registry as a state machine (hypothesis) -----------------------------------------------

PATHS = ("/a", "/b", "/c")


class PendingCalls(Calls):
    """The broker double with every call held until the state machine completes it, in any
    order it likes: each subscribe and unsubscribe is gated separately."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self.loop = loop
        self.waiting: list[tuple[str, str, asyncio.Future[None]]] = []

    async def subscribe(self, channel):
        await self._held("sub", channel)
        self.subscribed.add(channel)

    async def unsubscribe(self, channel):
        await self._held("unsub", channel)
        self.subscribed.discard(channel)

    async def _held(self, op: str, channel: str) -> None:
        done = self.loop.create_future()
        self.waiting.append((op, channel, done))
        await done


class RegistryMachine(RuleBasedStateMachine):
    """Connects (get-or-create), cancelled connects, drops and broker completions in any
    interleaving."""

    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.calls = PendingCalls(self.loop)
        self.reg = Registry(max_namespaces=len(PATHS), linger=0, subscribe=self.calls.subscribe,
                            unsubscribe=self.calls.unsubscribe)
        self.connecting: list[asyncio.Task] = []

    def settle(self) -> None:
        self.loop.run_until_complete(settle())

    @rule(path=st.sampled_from(PATHS))
    def connect(self, path):
        self.connecting.append(self.loop.create_task(self.reg.get_or_create(path, "c" + path, object)))
        self.settle()

    @rule(path=st.sampled_from(PATHS))
    def drop(self, path):
        async def drop() -> None:
            self.reg.drop(path, "c" + path)

        self.loop.run_until_complete(drop())
        self.settle()

    @precondition(lambda self: any(not task.done() for task in self.connecting))
    @rule(data=st.data())
    def a_connect_is_cancelled(self, data):
        """Its connection was reset: Sanic cancels the handler waiting for the namespace."""
        waiting = [task for task in self.connecting if not task.done()]
        waiting[data.draw(st.integers(0, len(waiting) - 1))].cancel()
        self.settle()

    @precondition(lambda self: self.calls.waiting)
    @rule(data=st.data())
    def broker_completes_a_call(self, data):
        index = data.draw(st.integers(0, len(self.calls.waiting) - 1))
        _, _, done = self.calls.waiting.pop(index)
        done.set_result(None)
        self.settle()

    @invariant()
    def a_hosted_namespace_is_always_subscribed(self):
        for path in PATHS:
            if self.reg.get(path) is not None:
                assert "c" + path in self.calls.subscribed

    @invariant()
    def once_settled_channels_are_the_hosted_ones_and_nothing_is_pending(self):
        if self.calls.waiting or not all(task.done() for task in self.connecting):
            return
        hosted = {"c" + path for path in PATHS if self.reg.get(path) is not None}
        assert self.reg.channels == hosted == self.calls.subscribed
        assert self.reg.pending == 0

    def teardown(self):
        while self.calls.waiting:  # let every held call finish, so no task outlives the loop
            for _, _, done in self.calls.waiting:
                done.set_result(None)
            self.calls.waiting.clear()
            self.settle()
        self.loop.close()


RegistryMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_the_registry_keeps_its_promises_in_any_interleaving = RegistryMachine.TestCase
