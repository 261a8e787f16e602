"""The keepalive rule per client, the sweep that applies it to every client, and the
one sweep that pings every SSE stream."""

import asyncio
import math

from sanic_wsns.keepalive import HeartbeatSweep, KeepaliveAction, KeepaliveSweep, keepalive_action


def test_no_ping_before_the_interval_then_a_ping():
    assert keepalive_action(9.9, 0.0, False, interval=10, timeout=5) is KeepaliveAction.WAIT
    assert keepalive_action(10.0, 0.0, False, interval=10, timeout=5) is KeepaliveAction.PING


def test_an_unanswered_ping_times_out_after_the_timeout_not_before():
    assert keepalive_action(4.9, 0.0, True, interval=10, timeout=5) is KeepaliveAction.WAIT
    assert keepalive_action(5.0, 0.0, True, interval=10, timeout=5) is KeepaliveAction.TIMED_OUT


def test_while_a_ping_is_unanswered_no_second_ping_is_sent():
    assert keepalive_action(100.0, 0.0, True, interval=10, timeout=math.inf) is KeepaliveAction.WAIT


class Recorder:
    def __init__(self):
        self.calls: list[tuple[float, float, float]] = []
        self.swept = asyncio.Event()

    def keepalive(self, now, interval, timeout):
        self.calls.append((now, interval, timeout))
        self.swept.set()


def test_the_sweep_period_is_half_the_shorter_of_interval_and_timeout():
    assert KeepaliveSweep(20, 4, list).period == 2
    assert KeepaliveSweep(6, math.inf, list).period == 3


async def test_the_sweep_visits_every_client_each_period_until_stopped():
    clients = [Recorder(), Recorder()]
    sweep = KeepaliveSweep(0.02, 0.04, lambda: clients)
    sweep.start()
    for _ in range(2):
        for client in clients:
            client.swept.clear()
        await asyncio.wait_for(asyncio.gather(*(c.swept.wait() for c in clients)), 5)
    sweep.stop()
    seen = [len(c.calls) for c in clients]
    assert all(n >= 2 for n in seen) and all(c.calls[0][1:] == (0.02, 0.04) for c in clients)
    await asyncio.sleep(0.05)  # several periods: a stopped sweep must not run again
    assert [len(c.calls) for c in clients] == seen


class Beater:
    def __init__(self):
        self.beats = 0
        self.beaten = asyncio.Event()

    def beat(self):
        self.beats += 1
        self.beaten.set()


async def beaten(*streams: Beater) -> None:
    """Until the sweep ran once more for each of ``streams``."""
    for stream in streams:
        stream.beaten.clear()
    await asyncio.wait_for(asyncio.gather(*(s.beaten.wait() for s in streams)), 5)


def live_timers() -> int:
    scheduled = asyncio.get_running_loop()._scheduled  # asyncio's own loop, as the tests run
    return sum(1 for handle in scheduled if not handle.cancelled())


async def test_the_heartbeat_sweep_beats_every_stream_each_period_and_stops_with_the_last():
    first, second = Beater(), Beater()
    sweep = HeartbeatSweep()
    timers = live_timers()
    sweep.add(first, 0.02)
    sweep.add(second, 0.02)
    assert live_timers() == timers + 1  # one timer for every stream
    await beaten(first, second)
    await beaten(first, second)
    sweep.discard(first)
    left = first.beats
    await beaten(second)
    assert first.beats == left  # discarded: not beaten again
    sweep.discard(second)
    assert live_timers() == timers  # the timer went with the last stream
