"""Bounded polling, for every harness in the repository (tests, e2e, bench).

Polling is for state that has no event to await: a counter another task or process updates,
a server starting in another process, what a browser page drew. Every poll has a deadline and
fails with what it was waiting for. ``attempts`` holds the deadline and ``expired`` says
what was not met; ``wait_until`` (blocking: fixtures, threads, the sync Playwright API) and
``wait_for`` (in a test's event loop) differ only in how they pause between attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: What a failed poll says it waited for: a text, or a function that builds it at the end
#: (a report of the last attempt).
What = str | Callable[[], str]


def attempts(timeout: float) -> Iterator[int]:
    """Attempt numbers, the first at once, none started after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    count = 0
    while count == 0 or time.monotonic() <= deadline:
        yield count
        count += 1


def expired(timeout: float, what: What) -> AssertionError:
    return AssertionError(f"not within {timeout}s: {what() if callable(what) else what}")


def wait_until(predicate: Callable[[], T], timeout: float, what: What = "condition", *,
               interval: float = 0.05, pause: Callable[[float], Any] = time.sleep) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    ``pause`` sleeps between attempts (seconds); a predicate over what a Playwright page's
    event handlers record needs ``pumping(page)``: the sync API hands events over only
    while it is called, not during a ``time.sleep``.
    """
    for _ in attempts(timeout):
        value = predicate()
        if value:
            return value
        pause(interval)
    raise expired(timeout, what)


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01,
                   what: What | None = None) -> None:
    """``wait_until`` inside an event loop: the loop runs between attempts."""
    for _ in attempts(timeout):
        if predicate():
            return
        await asyncio.sleep(interval)
    raise expired(timeout, what or f"condition {predicate}")


def pumping(page: Any) -> Callable[[float], None]:
    """A ``pause`` that lets a Playwright page deliver its events while it waits."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)
