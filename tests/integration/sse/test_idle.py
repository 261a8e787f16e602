"""What an idle SSE stream keeps on the server: nothing of its own that ticks (issue 26's
bench requirement: an idle stream costs no more memory than an idle WebSocket).

Its ``: ping`` comments come from the hub's one ``HeartbeatSweep``, and Sanic's HTTP
timeout check ends once the stream is joined, as it does for an upgraded connection;
before, every idle stream slept in a timer of its own between pings and kept Sanic's
check re-arming itself, and its connection's two ``asyncio.Event``s held a 64-slot deque
each (``python -m bench.memory --kinds wsns,sse`` itemizes an idle stream)."""

from __future__ import annotations

import asyncio
import collections
import gc

from tests.support.core_app import build_app
from tests.support.servers import serve, wait_for
from tests.support.sse_reader import Stream, open_stream

SSE = "/wsns/sse"
STREAMS = 20


def live_timers() -> int:
    """Timers armed on this (asyncio's own) loop and not cancelled: what ticks for whom."""
    scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    return sum(1 for handle in scheduled if not handle.cancelled())


def deques() -> int:
    """Deques alive in this process (an ``asyncio.Event`` makes one for its waiters)."""
    return sum(1 for o in gc.get_objects() if type(o) is collections.deque)


async def test_idle_streams_keep_no_timer_task_or_deque_of_their_own_and_are_all_pinged() -> None:
    app, wsns, _ = build_app()
    app.config.WEBSOCKET_PING_INTERVAL = 0.2
    async with serve(app) as srv:
        first = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/idle")
        await first.next()
        await first.comment(timeout=2)  # idle: pinged, so the sweep's timer is armed
        timers, tasks, queues = live_timers(), len(asyncio.all_tasks()), deques()
        streams: list[Stream] = []
        for n in range(STREAMS):
            stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/idle-{n % 4}")
            await stream.next()
            streams.append(stream)
        # Each stream is idle once it was pinged (the sweep pings only streams past their join).
        for stream in streams:
            assert await stream.comment(timeout=2) == "ping"
        assert wsns.stats()["totals"]["clients"] == STREAMS + 1
        # A few timers of the instance's own (batched writes) may come and go: never one per stream.
        await wait_for(lambda: live_timers() <= timers + 2, 2,
                       what=lambda: f"{live_timers() - timers} more timers with {STREAMS} more idle streams")
        assert len(asyncio.all_tasks()) <= tasks + STREAMS  # Sanic's one per connection
        # One per stream is this test's own reader's (an asyncio stream's drain waiters); the
        # server's side of a stream keeps none (it kept two).
        assert deques() - queues < 2 * STREAMS
        for stream in (first, *streams):
            await stream.close()
        await wait_for(lambda: wsns.stats()["totals"]["clients"] == 0, 5, what="every stream left")
