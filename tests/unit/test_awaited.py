"""A coroutine guarded by ``must_await`` (``wsns.disconnect``) and left unawaited warns at
the line that forgot the ``await`` (Python's own warning names sanic-wsns' code and
whatever ran when the coroutine was collected)."""

from __future__ import annotations

import asyncio
import gc
import inspect

from sanic_wsns import WsNamespaces
from sanic_wsns.awaited import must_await


@must_await("rooms.close")
async def close_room(room_id: int) -> int:
    await asyncio.sleep(0)
    return room_id


def here() -> int:
    """The line that called ``here()``."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_an_unawaited_guarded_call_warns_at_the_callers_line(recwarn):
    close_room(1); line = here()  # noqa: E702
    gc.collect()
    assert len(recwarn) == 1, [str(w.message) for w in recwarn]
    warning = recwarn.pop(RuntimeWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)
    assert str(warning.message) == ("rooms.close(...) was never awaited, so nothing was sent: "
                                    "write `await rooms.close(...)`")


def test_an_unawaited_wsns_disconnect_warns_at_the_callers_line(recwarn):
    wsns = WsNamespaces()
    wsns.disconnect(user="ada"); line = here()  # noqa: E702
    gc.collect()
    warning = recwarn.pop(RuntimeWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)
    assert str(warning.message).startswith("wsns.disconnect(...) was never awaited")


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
