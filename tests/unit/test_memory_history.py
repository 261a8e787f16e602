"""memory:// history keeps the Redis scripts' promises: offsets, epochs, size, ttl, a cap."""

from __future__ import annotations

import json

import pytest

from sanic_wsns.broker.memory_history import MemoryHistory
from sanic_wsns.errors import ConfigError
from sanic_wsns.history import History


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def head(n: int) -> bytes:
    return b'{"type":"t","data":%d' % n


def test_offsets_count_from_one_and_the_kept_frame_carries_its_offset(clock):
    store = MemoryHistory(clock=clock)
    first, frame = store.append("c", head(7), History())
    assert first.offset == 1 and json.loads(frame) == {"type": "t", "data": 7, "offset": 1}
    second, _ = store.append("c", head(8), History())
    assert second == first.__class__(2, first.epoch)


def test_channels_have_their_own_offsets_and_epochs(clock):
    store = MemoryHistory(clock=clock)
    a, _ = store.append("a", head(1), History())
    b, _ = store.append("b", head(1), History())
    assert a.offset == b.offset == 1 and a.epoch != b.epoch


def test_read_returns_the_frames_after_an_offset_and_the_top(clock):
    store = MemoryHistory(clock=clock)
    for n in range(5):
        store.append("c", head(n), History())
    top, entries = store.read("c", 2, History())
    assert top.offset == 5 and [o for o, _ in entries] == [3, 4, 5]


def test_only_the_last_size_frames_are_kept(clock):
    store = MemoryHistory(clock=clock)
    for n in range(10):
        store.append("c", head(n), History(size=3))
    top, entries = store.read("c", 0, History(size=3))
    assert top.offset == 10 and [o for o, _ in entries] == [8, 9, 10]
    assert store.held == 3


def test_only_the_frames_that_fit_max_bytes_are_kept_and_always_the_newest(clock):
    store = MemoryHistory(clock=clock)
    each = len(b'{"type":"t","data":1,"offset":1}')  # offsets 1..9, data 1..9: one digit each
    history = History(max_bytes=3 * each)
    for n in range(1, 10):
        store.append("c", head(n), history)
    assert [o for o, _ in store.read("c", 0, history)[1]] == [7, 8, 9] and store.held == 3
    store.append("c", head(10**40), History(max_bytes=10))  # alone over the bound
    assert [o for o, _ in store.read("c", 0, history)[1]] == [10] and store.held == 1


def test_frames_expire_ttl_after_the_last_publish_but_offsets_go_on(clock):
    store = MemoryHistory(clock=clock)
    history = History(ttl=10)
    store.append("c", head(1), history)
    clock.now += 11
    top, entries = store.read("c", 0, history)
    assert top.offset == 1 and entries == [] and store.held == 0
    assert store.append("c", head(2), history)[0] == top.__class__(2, top.epoch)


def test_an_expired_epoch_starts_a_new_stream(clock):
    store = MemoryHistory(clock=clock)
    history = History(ttl=10, meta_ttl=100)
    old, _ = store.append("c", head(1), history)
    clock.now += 101
    new, _ = store.append("c", head(2), history)
    assert new.offset == 1 and new.epoch != old.epoch


def test_reading_an_unknown_channel_fixes_its_epoch_for_the_first_publish(clock):
    store = MemoryHistory(clock=clock)
    top, entries = store.read("c", 0, History())
    assert top.offset == 0 and entries == []
    assert store.append("c", head(1), History())[0].epoch == top.epoch


def test_the_cap_drops_the_least_recently_used_channels_frames_first(clock):
    store = MemoryHistory(max_entries=4, clock=clock)
    for channel in ("old", "mid", "new"):
        for n in range(2):
            store.append(channel, head(n), History())
            clock.now += 1
    assert store.held <= 4
    assert store.read("old", 0, History())[1] == []
    assert len(store.read("new", 0, History())[1]) == 2


def test_channels_whose_epoch_expired_are_forgotten(clock):
    store = MemoryHistory(clock=clock)
    history = History(ttl=1, meta_ttl=5)
    for n in range(100):
        store.append(f"c{n}", head(n), history)
    clock.now += 6
    store.append("fresh", head(0), history)
    assert store.held == 1
    assert store.channels == 1


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"ttl": 0}, {"ttl": 10, "meta_ttl": 5},
                                    {"max_bytes": 0}])
def test_a_history_that_cannot_keep_anything_is_refused(kwargs):
    with pytest.raises(ConfigError):
        History(**kwargs)
