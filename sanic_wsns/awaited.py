"""Coroutines that say where they were forgotten (``wsns.disconnect``).

``wsns.disconnect(user=...)`` without ``await`` closes nobody, and the handler goes on as if
it had. Python's own "coroutine ... was never awaited" warning names sanic-wsns' code and
the moment the garbage collector ran, not the line the user wrote. ``must_await`` returns a
coroutine that remembers its caller's file and line (two attributes of a frame that is
running anyway: no stack walk, no tracemalloc) and, dropped unawaited, warns there instead.
(Broadcasts need no such guard: they are queued at the call, ``broadcast_handle.py``.)
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Coroutine, Generator
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class MustAwait(Coroutine[Any, Any, T]):
    """A coroutine that, never awaited, warns at the line that created it."""

    __slots__ = ("_coro", "_what", "_filename", "_lineno", "_used")

    def __init__(self, coro: Coroutine[Any, Any, T], what: str, filename: str, lineno: int):
        self._coro = coro
        self._what = what
        self._filename = filename
        self._lineno = lineno
        self._used = False

    def __await__(self) -> Generator[Any, None, T]:
        self._used = True
        return self._coro.__await__()

    def send(self, value: Any) -> Any:
        self._used = True
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None) -> Any:
        self._used = True
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._used = True
        self._coro.close()

    def __del__(self) -> None:
        if self._used:
            return
        self._coro.close()  # closed before it started: Python adds no warning of its own
        warnings.warn_explicit(f"{self._what}(...) was never awaited, so nothing was sent: "
                               f"write `await {self._what}(...)`", RuntimeWarning,
                               self._filename, self._lineno)


def must_await(what: str) -> Callable[[Callable[P, Coroutine[Any, Any, T]]],
                                      Callable[P, Coroutine[Any, Any, T]]]:
    """Decorate an ``async def`` so that a call left unawaited warns at the caller's line,
    naming it ``what`` (``wsns.disconnect``)."""

    def decorate(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
            caller = sys._getframe(1)
            return MustAwait(fn(*args, **kwargs), what, caller.f_code.co_filename, caller.f_lineno)

        return call

    return decorate
