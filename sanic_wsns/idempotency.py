"""Request keys: at most one run of a handler per (namespace, user, key) within a window.

A request frame may carry ``"key"``. The first frame with a key runs its handler and its
answer (the reply or the error frame, without its ``id``) is kept for
``WSNS_IDEMPOTENCY_WINDOW`` seconds; a repeat within the window, on any instance, gets that
answer again and the handler does not run. A repeat that arrives while the first still
runs waits for its answer. This is what lets a client re-send a request whose reply was
lost with the connection instead of failing it with ``disconnected``.

The broker keeps the keys (Redis: one key per request next to the namespace's keys, in its
cluster slot; ``memory://``: a dict in the process). The claim is one round trip before
the handler; the answer is written after it, without holding up the reply.

While the broker is away a keyed request still runs (core idea 7: a broker outage never
fails local work); its key is kept in this instance's memory, so a repeat on this instance
still gets the first answer, during the outage and after it. A repeat that reaches
another instance during the outage can run again: docs/exactly-once.md says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from .broker.memory_requests import RUNNING, MemoryRequests
from .errors import BrokerUnavailable, ErrorCode
from .protocol import KEY_PATTERN, encode_error

if TYPE_CHECKING:
    from .broker.roles import RequestStore

logger = logging.getLogger("sanic_wsns")

#: Seconds a repeat waits for the first run's answer: the clients' default request timeout
#: (10 s in both clients), after which nobody would read it anyway.
REPEAT_WAIT = 10.0
#: A claim the broker has not answered in this time (a stall: a fork for a snapshot,
#: ``CLIENT PAUSE``) counts as an outage: the request runs now, its key kept here. A stalled
#: broker must not hold up local work any more than a lost one (core idea 7); a claim
#: answers in well under a millisecond otherwise.
CLAIM_TIMEOUT = 0.25
#: A repeat waiting on another instance asks again after this long, doubling up to the cap.
POLL_FIRST, POLL_CAP = 0.02, 0.5
_KEY = re.compile(KEY_PATTERN)


def request_name(user: Any, key: str) -> str:
    """The key's name in the store: the user (any hashable identity) digested, then the key
    (already checked against ``[A-Za-z0-9_.:-]{1,64}``)."""
    try:
        who = msgspec.json.encode(user)
    except TypeError:
        who = repr(user).encode()
    return f"{hashlib.blake2b(who, digest_size=12).hexdigest()}:{key}"


def broadcast_name(key: str) -> str:
    """A broadcast key's name in the store (apart from request keys: a broadcast is keyed
    per namespace, whoever sends it); ``ValueError`` for a key of the wrong shape."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"broadcast key {key!r}: use 1 to 64 of [A-Za-z0-9_.:-]")
    return f"b:{key}"


def with_id(answer: bytes, id: int) -> bytes:
    """A kept answer (``{"type":...,"data":...}``) as the reply to request ``id``."""
    return b'%s,"id":%d}' % (answer[:-1], id)


class RequestKeys:
    """The keys of one instance: runs the first request of a key, answers its repeats."""

    def __init__(self, store: RequestStore, window: float, channel: Callable[[str], str]):
        self._store = store
        self.window = window
        self._channel = channel  # a namespace path -> its broker channel
        #: Keys claimed here while the broker was away.
        self._fallback = MemoryRequests()
        self._degraded = False
        #: Keys whose first run (or a wait for another instance's) is in flight here:
        #: a local repeat awaits it instead of asking the store.
        self._inflight: dict[tuple[str, str], asyncio.Future[bytes]] = {}
        #: Repeats answered without running their handler (``wsns_idempotent_repeats_total``).
        self.repeats = 0

    @property
    def in_flight(self) -> int:
        """Keyed requests this instance is running or waiting on."""
        return len(self._inflight)

    async def once(self, path: str, name: str, run: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer to the request keyed ``name`` in namespace ``path``: ``run()``'s, if
        it is the first, else the first one's (without ``id``)."""
        channel = self._channel(path)
        slot = (channel, name)
        inflight = self._inflight.get(slot)
        if inflight is not None:
            self.repeats += 1
            return await _within(asyncio.shield(inflight), REPEAT_WAIT) or _STILL_RUNNING
        answer = self._inflight[slot] = asyncio.get_running_loop().create_future()
        try:
            result = await self._first_or_kept(channel, name, run)
        except BaseException:
            answer.set_result(_STILL_RUNNING)  # local repeats must not inherit a cancellation
            raise
        else:
            answer.set_result(result)
        finally:
            del self._inflight[slot]
        return result

    async def _first_or_kept(self, channel: str, name: str, run: Callable[[], Awaitable[bytes]]) -> bytes:
        kept = self._fallback.kept(channel, name)
        shared, stalled = kept is None, False
        if shared:
            try:
                async with asyncio.timeout(CLAIM_TIMEOUT):
                    kept = await self._store.claim_request(channel, name, self.window)
                if kept == RUNNING:
                    kept = await _within(self._wait_elsewhere(channel, name), REPEAT_WAIT)
                self._note_broker(None)
            except (BrokerUnavailable, TimeoutError) as exc:
                self._note_broker(exc)
                kept, shared = self._fallback.claim(channel, name, self.window), False
                stalled = isinstance(exc, TimeoutError)
        if kept is None:
            result = await run()
            if shared:
                self._store.settle_request(channel, name, result, self.window)
            else:
                self._fallback.settle(channel, name, result)
                if stalled:  # the broker may run the late claim: the answer must replace it
                    self._store.settle_request(channel, name, result, self.window, claimed=False)
            return result
        self.repeats += 1
        return _STILL_RUNNING if kept == RUNNING else kept

    def _note_broker(self, failure: BaseException | None) -> None:
        """One line when keys start being kept locally, one when they are shared again."""
        if failure is not None and not self._degraded:
            logger.warning("request keys kept on this instance only while the broker is away: %s",
                           failure or f"no answer within {CLAIM_TIMEOUT}s")
        elif failure is None and self._degraded:
            logger.warning("request keys shared through the broker again")
        self._degraded = failure is not None

    async def _wait_elsewhere(self, channel: str, name: str) -> bytes | None:
        """The first run is on another instance: ask until its answer is kept (or until the
        key's window ended meanwhile: then this claim is the first, and ``None`` says run)."""
        delay = POLL_FIRST
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_CAP)
            kept = await self._store.claim_request(channel, name, self.window)
            if kept != RUNNING:
                return kept


async def _within(answer: Awaitable[bytes | None], seconds: float) -> bytes | None:
    """``answer``, or a ``conflict`` error frame once ``seconds`` have passed without it."""
    try:
        async with asyncio.timeout(seconds):
            return await answer
    except TimeoutError:
        return _STILL_RUNNING


_STILL_RUNNING = encode_error(ErrorCode.CONFLICT, "a request with this key is still being handled; "
                              "ask again later", {"retry_after": 1.0})
