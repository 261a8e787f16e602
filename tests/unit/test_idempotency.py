"""Request keys' pure parts: names, replayed answers, and the memory store's window."""

from __future__ import annotations

from sanic_wsns.broker.memory_requests import RUNNING, MemoryRequests
from sanic_wsns.idempotency import request_name, with_id


def test_a_key_is_named_per_user() -> None:
    assert request_name("ann", "k") != request_name("bob", "k")
    assert request_name("ann", "k") == request_name("ann", "k")
    assert request_name(("tenant", 7), "k").endswith(":k")  # any hashable user
    assert request_name(None, "k") != request_name("None", "k")


def test_a_kept_answer_is_replayed_with_the_repeat_s_id() -> None:
    assert with_id(b'{"type":"reply","data":3}', 12) == b'{"type":"reply","data":3,"id":12}'


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_memory_store_keeps_a_key_for_its_window_only() -> None:
    clock = Clock()
    store = MemoryRequests(clock)
    assert store.claim("c", "a", 10.0) is None
    assert store.claim("c", "a", 10.0) == RUNNING
    store.settle("c", "a", b'{"type":"reply","data":1}')
    clock.now = 9.9
    assert store.claim("c", "a", 10.0) == b'{"type":"reply","data":1}'
    assert store.claim("c", "b", 10.0) is None
    clock.now = 10.0
    assert store.claim("c", "a", 10.0) is None  # its window ended: claimed again
    assert len(store) == 2  # "a" afresh, and "b" (claimed at 9.9)
    clock.now = 30.0
    store.claim("c", "z", 10.0)
    assert len(store) == 1  # expired keys leave: memory holds the last window only


def test_an_answer_for_an_expired_claim_is_not_kept() -> None:
    clock = Clock()
    store = MemoryRequests(clock)
    store.claim("c", "a", 1.0)
    clock.now = 2.0
    store.claim("c", "other", 1.0)  # drops "a"
    store.settle("c", "a", b"{}")
    assert store.claim("c", "a", 1.0) is None


def test_a_released_claim_is_forgotten_but_a_kept_answer_stays() -> None:
    store = MemoryRequests(clock=lambda: 0.0)
    assert store.claim("c", "queued", 300) is None
    store.release("c", "queued")  # its request never ran: a re-send runs it
    assert store.claim("c", "queued", 300) is None
    store.settle("c", "queued", b'{"type":"reply","data":1}')
    store.release("c", "queued")
    assert store.kept("c", "queued") == b'{"type":"reply","data":1}'
