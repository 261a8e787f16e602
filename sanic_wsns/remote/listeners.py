"""The app's listeners (``on``/``off``) and frame streams (``frames()``).

A listener may be sync or async. Async ones run as tasks, started in the order frames
arrive, so a slow listener never stops the reading (nor the heartbeat that reading feeds).
One failing listener neither breaks the connection nor silences the others: it is logged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Callable
from typing import Any

from .errors import RemoteError
from .wire import Frame

log = logging.getLogger("sanic_wsns.remote")

Listener = Callable[[Any, Any], Any]


class FrameStream:
    """``async for frame in ns.frames()``: the frames the listeners get, plus ``resync``.

    It starts collecting when created (not at the first ``anext``), so a frame that arrives
    between ``ns.frames()`` and the loop is not lost. Bounded by ``buffer``: a stream nobody
    reads fails with code ``overflow`` rather than holding frames without end. It ends when
    the namespace is closed or denied."""

    def __init__(self, types: tuple[str, ...], buffer: int):
        self._types = frozenset(types)
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue(buffer)
        self._overflowed = False

    def __aiter__(self) -> FrameStream:
        return self

    async def __anext__(self) -> Frame:
        if self._overflowed and self._queue.empty():
            raise RemoteError("overflow", f"more than {self._queue.maxsize} frames left unread")
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # ended: every later anext ends too
            raise StopAsyncIteration
        return frame

    def put(self, frame: Frame) -> None:
        if self._types and frame.get("type") not in self._types:
            return
        if self._queue.full():
            self._overflowed = True
        else:
            self._queue.put_nowait(frame)

    def end(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class Listeners:
    def __init__(self) -> None:
        self._by_type: dict[str, list[Listener]] = {}
        self._streams: weakref.WeakSet[FrameStream] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, type: str, fn: Listener) -> Callable[[], None]:
        self._by_type.setdefault(type, []).append(fn)
        return lambda: self.off(type, fn)

    def off(self, type: str, fn: Listener) -> None:
        listeners = self._by_type.get(type, [])
        if fn in listeners:
            listeners.remove(fn)

    def stream(self, types: tuple[str, ...], buffer: int) -> FrameStream:
        stream = FrameStream(types, buffer)
        self._streams.add(stream)
        return stream

    def emit(self, type: str, first: Any, second: Any) -> None:
        for fn in list(self._by_type.get(type, ())):
            try:
                result = fn(first, second)
            except Exception:
                log.exception("a %r listener failed", type)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._settled)

    def deliver(self, frame: Frame) -> None:
        """A frame for the app: its type's listeners and every stream."""
        for stream in list(self._streams):
            stream.put(frame)
        self.emit(frame["type"], frame.get("data"), frame)

    def end_streams(self) -> None:
        for stream in list(self._streams):
            stream.end()

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a listener failed", exc_info=task.exception())

    async def cancel(self) -> None:
        """Stop listener tasks still running (the namespace is closing)."""
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
