"""A broadcast left unawaited warns at the line that forgot the ``await`` (Python's own
warning names sanic-wsns' code and whatever ran when the coroutine was collected)."""

from __future__ import annotations

import asyncio
import gc
import inspect

import pytest

from sanic_wsns import Namespace, WsNamespaces
from sanic_wsns.awaited import must_await


def rooms():
    wsns = WsNamespaces()
    return wsns, wsns.pattern("/ws/rooms/<room_id:int>")


def here() -> int:
    """The line that called ``here()``."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_an_unawaited_ns_broadcast_warns_at_the_callers_line(recwarn):
    _, pattern = rooms()
    ns = Namespace(None, pattern, "/ws/rooms/1", {"room_id": 1})  # type: ignore[arg-type]
    ns.broadcast("said", {"text": "hi"}); line = here()  # noqa: E702
    gc.collect()
    assert len(recwarn) == 1, [str(w.message) for w in recwarn]
    warning = recwarn.pop(RuntimeWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)
    assert str(warning.message) == ("ns.broadcast(...) was never awaited, so nothing was sent: "
                                    "write `await ns.broadcast(...)`")


@pytest.mark.parametrize("what", ["pattern.broadcast", "wsns.broadcast"])
def test_the_other_broadcasts_warn_at_the_callers_line_too(what):
    wsns, pattern = rooms()
    with pytest.warns(RuntimeWarning, match=rf"^{what}\(\.\.\.\) was never awaited") as caught:
        if what == "pattern.broadcast":
            pattern.broadcast({"room_id": 1}, "said"); line = here()  # noqa: E702
        else:
            wsns.broadcast("/ws/rooms/1", "said"); line = here()  # noqa: E702
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


async def test_awaited_or_made_a_task_it_runs_and_says_nothing(recwarn):
    ran = []

    @must_await("job")
    async def job(n: int) -> int:
        await asyncio.sleep(0)
        ran.append(n)
        return n * 2

    assert await job(1) == 2
    assert await asyncio.create_task(job(2)) == 4
    assert await asyncio.gather(job(3)) == [6]
    gc.collect()
    assert ran == [1, 2, 3] and len(recwarn) == 0
