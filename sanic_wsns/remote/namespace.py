"""The app-facing object: one namespace, kept connected (wsns.js's ``Namespace`` in Python).

A supervisor task runs attempts one after the other: open a socket, wait for ``welcome``,
read frames until the socket ends, then decide from the close code whether to stop
(44xx denial, 4410, 1000, 1008) or to retry after a full-jitter backoff. Everything the
app calls (``send``, ``request``, ``on``...) works in every state: while not open, messages
are held in a bounded queue and sent in order once open again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ..recovery import Position
from .backoff import Backoff
from .closes import Ending, State, final_ending, is_final, retry_hint
from .connection import ABNORMAL, Connection, Ended, Gone, Refused, open_socket
from .errors import Closed, Denied, Disconnected, RequestError, RequestTimeout, TooBig
from .heartbeat import beat, timings
from .listeners import FrameStream, Listener, Listeners
from .offsets import OffsetTracker
from .options import Options
from .presence import PresenceState
from .requests import Held, PendingRequests, SendQueue
from .sse import SseConnection, open_stream
from .wire import Frame, attempt_url, encode, request_key, sse_url, subprotocols, websocket_url

T = TypeVar("T")
#: One attempt's transport: both speak in frames behind the same calls.
Transport = Connection | SseConnection

#: Events the client emits itself; a server frame of one of these types is not delivered.
OWN_EVENTS = frozenset({"state", "welcome", "resync", "presence", "pong"})


class _Default:
    """``request``'s timeout when none is given: the ``request_timeout`` option."""

    def __repr__(self) -> str:
        return "the request_timeout option"


DEFAULT = _Default()


async def _resolve(value: T | Callable[[], Awaitable[T] | T]) -> T:
    """An option's value: itself, or what its (sync or async) function returns now."""
    if not callable(value):
        return value
    result = value()
    return await result if inspect.isawaitable(result) else result


class _Dropped(Exception):
    """The client gave up on the current attempt; retried with ``reason``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class _TokenFailed(Exception):
    """The ``token`` function raised: the client gives up (a reconnect could only fail
    the same way, or be refused, and must not become a loop)."""


async def _no_ping(n: int) -> None:
    """An SSE stream cannot answer a ping: the heartbeat waits for the server's comments."""


def refresh_delay(expires_in: float) -> float:
    """Seconds after a welcome (or a refresh) to send the next ``refresh``: a quarter of
    the lifetime before expiry, at most 30 s before (wsns.js's ``refreshDelay``)."""
    return max(0.0, expires_in - min(expires_in / 4, 30.0))


class RemoteNamespace:
    """A connection to one namespace. Create it with ``sanic_wsns.remote.connect``."""

    def __init__(self, url: str, options: Options):
        self.url = websocket_url(url)
        #: The http(s):// URL of the SSE stream and POSTs (``transport="sse"``).
        self.sse_url = sse_url(url, options.sse_prefix)
        self.options = options
        self.state = State.CONNECTING
        #: Why it stopped (``closed``/``denied``), else None.
        self.ending: Ending | None = None
        #: The server-assigned id and the data of the last ``welcome``.
        self.client_id: str | None = None
        self.welcome: dict[str, Any] | None = None
        self._listeners = Listeners()
        self._backoff = Backoff(options.backoff_base, options.backoff_max, options.backoff_factor,
                                options.stable_after)
        self._queue = SendQueue(options.queue_limit)
        self._pending = PendingRequests()
        self._offsets = OffsetTracker()
        self._presence = PresenceState()
        self._socket: Transport | None = None
        self._write_lock = asyncio.Lock()
        self._alive = asyncio.Event()
        self._settled = asyncio.Event()  # the first welcome came, or the end
        self._ended = asyncio.Event()
        self._wake = asyncio.Event()
        self._held = False  # drop(reconnect=False): no attempt until reconnect_now()
        self._resync_timer: asyncio.TimerHandle | None = None
        self._refresh_timer: asyncio.TimerHandle | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    # -- what the app reads ---------------------------------------------------------------

    @property
    def position(self) -> Position | None:
        """Where this client is in a history namespace's stream (sent as ``since``/``epoch``
        on reconnect); None without history."""
        return self._offsets.position

    @property
    def presence(self) -> Mapping[str, Any]:
        """Who is in the namespace, client id → public identity, on every instance: a live
        read-only mapping, replaced by each connect's state and changed by each diff."""
        return self._presence.members

    @property
    def presence_truncated(self) -> bool:
        return self._presence.truncated

    @property
    def denial(self) -> Denied | None:
        """The refusal (code, close code, the server's reason) once ``denied``, else None."""
        if self.state is not State.DENIED or self.ending is None:
            return None
        return Denied(self.ending.reason, self.ending.code, self.ending.message)

    # -- what the app calls ---------------------------------------------------------------

    def on(self, type: str, fn: Listener) -> Callable[[], None]:
        """Call ``fn(data, frame)`` (sync or async) for server frames of ``type``, or for
        the client's own events: ``"state"`` ``fn(state, ending)``, ``"welcome"``,
        ``"resync"`` (``frame`` None after a reconnect without history), ``"presence"``
        ``fn(presence, change)``, ``"error"`` (an error frame answering no request).
        Returns a function that removes the listener."""
        return self._listeners.on(type, fn)

    def off(self, type: str, fn: Listener) -> None:
        self._listeners.off(type, fn)

    def frames(self, *types: str, buffer: int = 1000) -> FrameStream:
        """``async for frame in ns.frames():`` every frame the listeners get (of ``types``
        only, when given), ``resync`` included; ends when the namespace ends."""
        stream = self._listeners.stream(types, buffer)
        if self._ended.is_set():
            stream.end()
        return stream

    async def send(self, type: str, data: Any = None) -> None:
        """Fire and forget; held while not open (``QueueFull`` over ``queue_limit``).
        ``TooBig``, and ``Closed`` after ``close()`` or a denial."""
        self._assert_usable()
        held = Held(self._checked(encode(type, data)))
        if self._writable():
            await self._write(held)
        else:
            self._queue.push(held)

    async def request(self, type: str, data: Any = None, *,
                      timeout: float | _Default | None = DEFAULT, retry: bool = True) -> Any:
        """Send a request and return its reply's data. Raises ``RequestError`` (the server's
        ``code``, ``message``, ``details``), ``RequestTimeout`` (a ``TimeoutError``),
        ``Closed``, ``QueueFull``, ``TooBig``. ``timeout`` in seconds: default the
        ``request_timeout`` option, None for none; it runs while held too.

        By default (v1.2) the request carries a random key and, if the connection drops
        before its reply, it is sent again with the same key once the connection is back:
        the server runs it at most once and answers the repeat with the first answer.
        ``retry=False`` sends no key, and a drop fails it with ``Disconnected``."""
        self._assert_usable()
        writable = self._writable()
        id, reply = self._pending.track(sent=writable)
        try:
            held = Held(self._checked(encode(type, data, id, request_key() if retry else None)), id)
            if retry:
                self._pending.keyed(id, held.text)
            if not writable:
                self._queue.push(held)
            else:
                await self._write(held)
            limit = self.options.request_timeout if isinstance(timeout, _Default) else timeout
            async with asyncio.timeout(limit):
                return await reply
        except TimeoutError:
            raise RequestTimeout(f"no reply to {type} within {limit} s") from None
        finally:
            self._pending.forget(id)
            self._queue.remove(id)

    async def close(self) -> None:
        """Close for good: state ``closed`` (reason "closed"); held and unanswered requests
        fail with ``Closed``. Calling it again does nothing."""
        if not self._final():
            self._finish(State.CLOSED, Ending("closed", 1000, "closed by the client"))
        await self._stop()

    async def wait_closed(self) -> Ending:
        """Wait until the namespace stops for good (closed, denied, gave up); why."""
        await self._ended.wait()
        assert self.ending is not None
        return self.ending

    def reconnect_now(self) -> None:
        """Skip the backoff delay (or end a ``drop(reconnect=False)``): retry at once, as
        wsns.js does on the browser's ``online`` event."""
        self._held = False
        self._wake.set()

    def drop(self, *, reconnect: bool = True) -> None:
        """Cut the connection as a network failure would: no close frame, the server
        notices later. The client reconnects and recovers as after any drop; with
        ``reconnect=False`` it stays away until ``reconnect_now()``, so a test can make
        things happen while it is gone."""
        self._held = not reconnect
        if self._socket is not None:
            self._socket.abort()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting and return once open; ``Denied`` or ``Closed`` when it ends
        before that. Transient failures are retried meanwhile (a service started before
        its server just waits): bound the wait with ``asyncio.timeout`` if needed."""
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(),
                                                                  name=f"wsns-remote {self.url}")
        try:
            await self._settled.wait()
        except BaseException:
            await self.close()
            raise
        if self.state is State.DENIED:
            await self._stop()
            raise self.denial or Closed("denied")
        if self._final():
            await self._stop()
            raise Closed(f"closed: {self.ending.reason if self.ending else ''}", self.ending)

    async def _stop(self) -> None:
        # Taken first: cancelling the supervisor forgets the socket, and the server must
        # still get a close frame (else it keeps the client until its own keepalive).
        socket, self._socket = self._socket, None
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if socket is not None:
            await socket.close()
        await self._listeners.cancel()

    async def _supervise(self) -> None:
        while not self._final():
            ended, retry_reason = await self._attempt()
            if self._final():
                return
            if retry_reason is None:
                self._finish(*final_ending(ended))
                return
            if self._backoff.failures >= self.options.max_attempts:
                self._finish(State.CLOSED, Ending("gave_up", ended.code, ended.message))
                return
            delay = self._backoff.next(not_before=retry_hint(ended))
            self._set_state(State.RECONNECTING, Ending(retry_reason, ended.code, ended.message))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if self._held else delay):
                    await self._wake.wait()

    async def _attempt(self) -> tuple[Ended, str | None]:
        """One attempt, from the handshake to the socket's end: how it ended, and the
        reason to retry (None: it is final)."""
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                socket = await self._open()
        except TimeoutError:
            return Ended(ABNORMAL, f"no welcome within {self.options.connect_timeout} s"), "connect_timeout"
        except _Dropped as dropped:
            return Ended(ABNORMAL, str(dropped)), dropped.reason
        except _TokenFailed as failed:
            self._finish(State.CLOSED, Ending("token_failed", ABNORMAL, str(failed)))
            return Ended(ABNORMAL, str(failed)), None
        except Refused as refused:
            return refused.ended, None if is_final(refused.ended) else "connection_lost"
        except OSError as error:
            return Ended(ABNORMAL, f"cannot connect: {error}"), "connection_lost"
        try:
            reason = await self._run(socket)
        except BaseException:
            self._detach(final=True)
            raise
        ended = socket.ended() if reason == "connection_lost" else Ended(ABNORMAL, reason)
        final = is_final(ended)
        self._detach(final)
        return ended, None if final else reason

    async def _open(self) -> Transport:
        """Handshake, then the welcome (refusals close before it, with their code)."""
        try:
            query = await _resolve(self.options.query)
            headers = await _resolve(self.options.headers)
        except Exception as error:
            raise _Dropped("query_failed", f"the query or headers option failed: {error}") from error
        socket = await self._connect(query, dict(headers or {}), await self._token())
        try:
            frame = await socket.read()
            while frame is None and not socket.pingable:
                frame = await socket.read()  # the stream's comments before its first event
        except Gone:
            raise Refused(socket.ended()) from None
        except BaseException:
            socket.abort()
            raise
        if frame is None or frame["type"] != "welcome":
            socket.abort()
            raise Refused(Ended(ABNORMAL, "the first frame was not a welcome"))
        self._socket = socket
        await self._welcomed(frame)
        return socket

    async def _connect(self, query: Any, headers: dict[str, str], token: str | None) -> Transport:
        """Open this attempt's transport. Over SSE the token goes as ``Authorization:
        Bearer`` (a stream has no subprotocols) and the origin as ``Origin``."""
        recovery = self._offsets.query()
        if self.options.transport == "websocket":
            return await open_socket(attempt_url(self.url, query, recovery), headers=headers,
                                     subprotocols=subprotocols(token), origin=self.options.origin,
                                     max_size=self.options.max_size, compression=self.options.compression)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if self.options.origin is not None:
            headers["Origin"] = self.options.origin
        return await open_stream(attempt_url(self.sse_url, query, recovery),
                                 attempt_url(self.sse_url, query, {}),
                                 headers=headers, max_size=self.options.max_size,
                                 post_timeout=self.options.request_timeout)

    async def _run(self, socket: Transport) -> str:
        """Read frames until the socket ends ("connection_lost") or the heartbeat finds it
        dead ("heartbeat_timeout")."""
        reading = asyncio.ensure_future(self._read(socket))
        beating = asyncio.ensure_future(self._heartbeat(socket))
        try:
            done, _ = await asyncio.wait({reading, beating}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, beating):
                task.cancel()
            await asyncio.gather(reading, beating, return_exceptions=True)
        if beating in done and not beating.cancelled() and beating.exception() is None:
            socket.abort()
            return "heartbeat_timeout"
        return "connection_lost"

    async def _read(self, socket: Transport) -> None:
        with contextlib.suppress(Gone):
            while True:
                frame = await socket.read()
                self._alive.set()  # noise and an SSE comment prove the connection alive too
                if frame is not None:
                    self._receive(frame)

    async def _heartbeat(self, socket: Transport) -> None:
        """Return when the connection is found dead (never without a heartbeat)."""
        options = self.options.heartbeat
        if options is None:
            await asyncio.Event().wait()  # only reading ends this attempt
            return
        interval, timeout = timings(options, (self.welcome or {}).get("heartbeat_interval"), socket.pingable)
        await beat((lambda n: socket.write(encode("ping", n))) if socket.pingable else _no_ping,
                   self._alive, interval, timeout)

    # -- frames ---------------------------------------------------------------------------

    async def _welcomed(self, frame: Frame) -> None:
        data: dict[str, Any] = frame["data"] if isinstance(frame.get("data"), dict) else {}
        reconnected = self.welcome is not None
        self._backoff.opened()
        self.welcome = data
        self.client_id = data.get("client_id")
        must_resync = self._offsets.welcome(data, reconnected)
        async with self._write_lock:
            self._set_state(State.OPEN, None)
            self._settled.set()
            await self._flush()
        if self.state is State.OPEN:
            self._schedule_refresh(data.get("expires_in"))
            self._listeners.emit("welcome", data, frame)
        if self.state is State.OPEN and must_resync:
            self._resync({"reason": "reconnected"}, None)

    def _receive(self, frame: Frame) -> None:
        type, data, id = frame["type"], frame.get("data"), frame.get("id")
        if type == "reply":
            self._pending.resolve(id, data)
        elif type == "error" and id is not None:
            error = data if isinstance(data, dict) else {}
            self._pending.reject(id, RequestError(str(error.get("code", "internal")),
                                                  str(error.get("message", "error")), error.get("details")))
        elif not self._offsets.accept(frame):
            pass  # a frame this client already has (recovered and live copies overlapped)
        elif type in ("presence_state", "presence_diff"):
            change = (self._presence.reset(data, frame.get("truncated") is True)
                      if type == "presence_state" else self._presence.apply(data))
            self._listeners.emit("presence", self.presence, change)
        elif type == "resync":
            self._offsets.moved(data.get("position") if isinstance(data, dict) else None)
            self._resync(data, frame)
        elif type not in OWN_EVENTS:
            self._listeners.deliver(frame)

    async def _token(self) -> str | None:
        try:
            return await _resolve(self.options.token)
        except Exception as error:
            raise _TokenFailed(f"the token option failed: {error}") from error

    def _schedule_refresh(self, expires_in: Any) -> None:
        """Refresh before ``expires_in`` runs out, when a ``token`` function can give a
        fresh token (a fixed string cannot: that connection ends with 4001)."""
        self._cancel_refresh()
        refreshes = self._socket is not None and self._socket.refreshes
        if refreshes and isinstance(expires_in, (int, float)) and callable(self.options.token):
            self._refresh_timer = asyncio.get_running_loop().call_later(
                refresh_delay(expires_in), self._start_refresh)

    def _start_refresh(self) -> None:
        self._refresh_timer = None
        self._refreshing = asyncio.get_running_loop().create_task(self._refresh(), name="wsns-refresh")

    async def _refresh(self) -> None:
        """Send ``refresh`` with a fresh token. A refusal needs nothing here: the server
        closes with 4001 and the next attempt asks for a token again; a ``token`` function
        that fails stops the client."""
        try:
            token = await self._token()
        except _TokenFailed as failed:
            self._finish(State.CLOSED, Ending("token_failed", ABNORMAL, str(failed)))
            await self._stop()
            return
        with contextlib.suppress(RequestError, Disconnected, RequestTimeout, Closed):
            reply = await self.request("refresh", {"token": token}, retry=False)
            if isinstance(reply, dict):
                self._schedule_refresh(reply.get("expires_in"))

    def _cancel_refresh(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
            self._refresh_timer = None

    def _resync(self, data: Any, frame: Frame | None) -> None:
        """Tell the app to re-fetch, after the jitter; one waiting resync covers later ones."""
        if self._resync_timer is not None:
            return
        delay = random.random() * self.options.resync_jitter
        self._resync_timer = asyncio.get_running_loop().call_later(delay, self._emit_resync, data, frame)

    def _emit_resync(self, data: Any, frame: Frame | None) -> None:
        self._resync_timer = None
        self._listeners.deliver(frame or {"type": "resync", "data": data})

    # -- writing --------------------------------------------------------------------------

    async def _write(self, held: Held) -> None:
        """Write now, in order with the flush; held again if the socket closed first."""
        async with self._write_lock:
            socket = self._socket
            if socket is not None and self._writable() and await socket.write(held.text):
                return
        if held.id is not None:
            self._pending.mark_sent(held.id, False)
        self._queue.push(held)

    async def _flush(self) -> None:
        """Send what was held, in order (the caller holds the write lock)."""
        for held in self._queue.drain():
            try:
                self._checked(held.text)
            except TooBig as error:
                if held.id is not None:
                    self._pending.reject(held.id, error)
                else:
                    self._listeners.emit("error", {"code": error.code, "message": error.message}, None)
                continue
            if held.id is not None:
                self._pending.mark_sent(held.id)
            assert self._socket is not None
            await self._socket.write(held.text)

    def _checked(self, text: bytes) -> bytes:
        """``text``, or ``TooBig`` when over the server's frame limit (from the last welcome)."""
        limits = (self.welcome or {}).get("limits")
        limit = limits.get("max_frame_size") if isinstance(limits, dict) else None
        if isinstance(limit, int) and len(text) > limit:
            raise TooBig(limit)
        return text

    def _writable(self) -> bool:
        return self.state is State.OPEN and self._socket is not None and self._socket.writable

    # -- state ----------------------------------------------------------------------------

    def _detach(self, final: bool) -> None:
        """Forget the current socket. Unless the end is final (then every request fails with
        ``Closed``), the keyed requests written to it are held to be sent again, and the
        others fail with ``Disconnected``."""
        self._cancel_refresh()
        if self._socket is not None:
            self._socket = None
            self._backoff.closed()
        if not final:
            self._queue.requeue(self._pending.dropped(Disconnected()))

    def _finish(self, state: State, ending: Ending) -> None:
        self._cancel_refresh()
        if self._resync_timer is not None:
            self._resync_timer.cancel()
            self._resync_timer = None
        message = f"{state.value}: {ending.reason}"
        self._pending.reject_all(Closed(message, ending))
        self._queue.drain()
        self.ending = ending
        self._set_state(state, ending)
        self._ended.set()
        self._settled.set()
        self._listeners.end_streams()

    def _set_state(self, state: State, ending: Ending | None) -> None:
        if self.state is state:
            return
        self.state = state
        self._listeners.emit("state", state, ending)

    def _final(self) -> bool:
        return self.state in (State.CLOSED, State.DENIED)

    def _assert_usable(self) -> None:
        if self._final():
            raise Closed("the connection is closed", self.ending)

