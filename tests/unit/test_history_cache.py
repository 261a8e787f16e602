"""``RecentHistory``: returning clients of one namespace share its history reads, and get
exactly what the broker's own read would give. The broker here is memory://'s history
(the same promises as the Redis scripts), counted."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from sanic_wsns.broker.memory_history import MemoryHistory
from sanic_wsns.history import History
from sanic_wsns.history_cache import RecentHistory
from sanic_wsns.recovery import Entry, Position

HISTORY = History(size=20, ttl=10, meta_ttl=100, max_bytes=2000)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountedStore:
    """memory:// history, with the frames and bytes each read returned."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = MemoryHistory(clock=self.clock)
        self.frames_read = 0
        self.bytes_read = 0
        self.reads = 0

    def publish(self, size: int = 50, history: History = HISTORY) -> None:
        self.store.append("c", b'{"type":"t","data":"' + b"x" * size + b'"', history)

    async def read(self, channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        self.reads += 1
        await asyncio.sleep(0)  # a real read yields: let concurrent readers queue up
        top, entries = self.store.read(channel, after, history)
        self.frames_read += len(entries)
        self.bytes_read += sum(len(frame) for _, frame in entries)
        return top, entries


async def test_a_second_returning_client_reads_only_what_is_new_and_the_newest_frame():
    broker = CountedStore()
    cache = RecentHistory(broker.read)
    for _ in range(20):
        broker.publish()
    first = await cache.read("c", 0, HISTORY)
    assert broker.frames_read == 20
    broker.publish()
    second = await cache.read("c", 0, HISTORY)
    assert broker.frames_read == 20 + 2  # the newest kept (is it still there?) and the new one
    assert second == broker.store.read("c", 0, HISTORY) and second[1][:-1] == first[1][1:]


async def test_returning_clients_at_once_make_one_full_read():
    broker = CountedStore()
    cache = RecentHistory(broker.read)
    for _ in range(20):
        broker.publish()
    results = await asyncio.gather(*(cache.read("c", 0, HISTORY) for _ in range(10)))
    assert all(result == broker.store.read("c", 0, HISTORY) for result in results)
    # All ten asked before the full read was sent: the second tops the copy up (one
    # frame: the newest, still there), and the eight behind it share that read.
    assert (broker.reads, broker.frames_read) == (2, 20 + 1)


async def test_a_reader_never_shares_a_read_sent_before_it_asked():
    """That read may not hold what the reader's namespace had delivered when it asked."""
    broker = CountedStore()
    answered = asyncio.Event()

    async def read_then_wait(channel: str, after: int, history: History) -> tuple[Position, list[Entry]]:
        answer = broker.store.read(channel, after, history)  # Redis ran it: the reply is on its way
        await answered.wait()
        return answer

    cache = RecentHistory(read_then_wait)
    for _ in range(5):
        broker.publish()
    first = asyncio.ensure_future(cache.read("c", 0, HISTORY))
    await asyncio.sleep(0)  # its read ran at offset 5; the reply waits
    broker.publish()  # offset 6: delivered before the second reader asks
    second = asyncio.ensure_future(cache.read("c", 0, HISTORY))
    await asyncio.sleep(0)
    answered.set()
    assert (await asyncio.wait_for(first, 5))[0].offset == 5
    top, entries = await asyncio.wait_for(second, 5)
    assert top.offset == 6 and [offset for offset, _ in entries] == [1, 2, 3, 4, 5, 6]


async def test_a_lost_stream_is_read_again_in_its_new_epoch():
    broker = CountedStore()
    cache = RecentHistory(broker.read)
    broker.publish()
    old = await cache.read("c", 0, HISTORY)
    broker.clock.now += 101  # past meta_ttl: the next publish starts a new epoch
    broker.publish()
    new = await cache.read("c", 0, HISTORY)
    assert new == broker.store.read("c", 0, HISTORY) and new[0].epoch != old[0].epoch


async def test_an_expired_stream_is_not_served_from_the_copy():
    broker = CountedStore()
    cache = RecentHistory(broker.read)
    broker.publish()
    await cache.read("c", 0, HISTORY)
    broker.clock.now += 11  # past ttl: the frames are gone, the offsets stay
    assert await cache.read("c", 0, HISTORY) == (broker.store.read("c", 0, HISTORY)[0], [])


async def test_the_copies_of_every_namespace_stay_under_the_instance_bound():
    broker = CountedStore()
    cache = RecentHistory(broker.read, max_bytes=5000)
    for n in range(10):
        broker.store.append(f"c{n}", b'{"type":"t","data":"' + b"x" * 900 + b'"', HISTORY)
        await cache.read(f"c{n}", 0, HISTORY)
        assert cache.held <= 5000
    assert cache.held > 0


operations = st.lists(st.one_of(
    st.tuples(st.just("publish"), st.integers(1, 700)),
    st.tuples(st.just("read"), st.integers(-1, 40)),
    st.tuples(st.just("wait"), st.sampled_from([1.0, 11.0, 101.0])),
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(operations)
def test_every_read_is_what_the_broker_would_answer(ops):
    broker = CountedStore()
    cache = RecentHistory(broker.read)

    async def run() -> None:
        for op, value in ops:
            if op == "publish":
                broker.publish(int(value))
            elif op == "wait":
                broker.clock.now += value
            else:
                got = await cache.read("c", int(value), HISTORY)
                assert got == broker.store.read("c", int(value), HISTORY)

    asyncio.run(run())
