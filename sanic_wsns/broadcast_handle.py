"""What a broadcast returns: its frame is on its way when the call returns; awaiting it
tells how it ended.

Why not a coroutine: one client's messages are handled in order, so a handler that waited
for its broadcast's offset paid one Redis round trip (and a pass of the event loop on both
instances) per numbered broadcast: with history on, W2's servers spent 1.2-1.3x the CPU per
delivery of history off, and 0.98-1.05x once the handler stopped waiting. So a broadcast is
queued at the call, in call order, as Phoenix's ``broadcast`` is fire-and-forget; awaiting
its handle gives what Centrifugo's publish returns (the frame's position in a history
namespace, else ``None``) or raises ``BrokerUnavailable``. Like ``client.Sent``, a plain
object with ``__await__``: no coroutine is made per call. It still speaks the coroutine
protocol (``send``/``throw``/``close``: a ``collections.abc.Coroutine``), so code written
when ``broadcast`` was ``async def`` keeps working: ``asyncio.create_task(ns.broadcast(…))``
and ``TaskGroup.create_task`` take it as they took the coroutine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .errors import BrokerUnavailable

if TYPE_CHECKING:
    from .recovery import Position

logger = logging.getLogger("sanic_wsns")


class Broadcast:
    """A broadcast under way (see the module docstring). ``outcome``, when it has one:

    * a history namespace's numbering: the frame's ``Position``, or ``BrokerUnavailable``;
    * ``confirm=True``: ``True`` once the broker wrote the frame, ``False`` if it did not;
    * a keyed broadcast without history: ``None`` once it went out (or its key had gone out).

    Without one it ended at the call: sent, or ``refusal`` (``strict=True``, broker away).
    Whoever made it retrieves an ``outcome``'s exception, so an unawaited handle never makes
    asyncio log "exception was never retrieved" (the broker counted and logged the failure).
    """

    __slots__ = ("path", "_outcome", "_refusal", "_steps")

    def __init__(self, path: str, outcome: asyncio.Future[Any] | None = None,
                 refusal: BrokerUnavailable | None = None):
        self.path = path
        self._outcome = outcome
        self._refusal = refusal
        self._steps: Generator[Any, None, Position | None] | None = None

    def __await__(self) -> Generator[Any, None, Position | None]:
        outcome = self._outcome
        if outcome is None:
            if self._refusal is not None:
                raise self._refusal
            return None
        ended = yield from outcome.__await__()
        if ended is False:
            raise BrokerUnavailable(f"broadcast to {self.path} was not written by the broker")
        return None if ended is True else ended

    # -- the coroutine protocol, for asyncio.create_task and TaskGroup.create_task ----------

    def _stepper(self) -> Generator[Any, None, Position | None]:
        if self._steps is None:
            self._steps = self.__await__()
        return self._steps

    def send(self, value: Any) -> Any:
        return self._stepper().send(value)

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None) -> Any:
        return self._stepper().throw(typ, val, tb)

    def close(self) -> None:
        if self._steps is not None:
            self._steps.close()

    def __repr__(self) -> str:
        """Without side effects: it does not look at an outcome's exception, which would
        mark it retrieved."""
        outcome = self._outcome
        if outcome is None:
            state = "sent" if self._refusal is None else f"refused: {self._refusal}"
        else:
            state = "ended" if outcome.done() else "pending"
        return f"<Broadcast {self.path} {state}>"


def retrieved(outcome: asyncio.Future[Any]) -> None:
    """A done-callback: mark an outcome's exception seen, so that a handle nobody awaits
    makes asyncio log nothing for a broker's refusal (the broker counted and logged it
    already). Anything else is a bug, logged here since nobody may be awaiting."""
    if outcome.cancelled():
        return
    error = outcome.exception()
    if error is not None and not isinstance(error, BrokerUnavailable):
        logger.error("a broadcast failed", exc_info=error)
