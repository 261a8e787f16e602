"""One attempt over Server-Sent Events (core idea 13): frames from the server on a stream,
frames to it as POSTs, behind the same interface as a WebSocket ``Connection``. The server
ends a stream as it closes a WebSocket: ``event: close`` with the code and reason, then the
end of the response.

The stream's events and the POSTs' answers go into one bounded queue that ``read`` takes
from, so the namespace reads one sequence of frames whatever the transport. POSTs go one at
a time (the namespace writes under its lock): a WebSocket keeps the order of frames, and
parallel POSTs could reach two instances and be handled out of order.

A POST that fails on the network or with a 5xx (the instance behind a proxy died) ends the
attempt like a dropped WebSocket: the keyed requests go again after the reconnect, the
others fail with ``Disconnected``. A 401 ends it as a 4001 would (the attempt's token ran
out: reconnect with a fresh one). Another 4xx is the server's answer: an ``error`` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import msgspec

from . import http
from .connection import ABNORMAL, REFUSING_STATUSES, Ended, Gone, Refused
from .eventstream import EventStreamParser, EventTooLarge
from .wire import Frame, decode

#: Statuses of a refused stream that mean "try again later", as a 1013 close would.
LATER_STATUSES = {429, 503}
TOO_BIG = 1009
POLICY_VIOLATION = 1008
EXPIRED = 4001
#: Frames (events, POST answers) waiting for the namespace to read them: the stream is not
#: read further while it is full, so a slow reader holds the server back, not memory.
QUEUE_SIZE = 256
#: Bytes of one POST answer read at most: its reply and the frames its handler sent.
ANSWER_LIMIT = 16 * 2**20
_END = object()


def _refusal(status: int, body: bytes) -> Ended:
    """A refused stream as the close a WebSocket would get: 401/403/404 as 4401/4403/4404
    (final), a 401 whose code is ``expired`` as 4001 (reconnect with a fresh token)."""
    answer = decode_answer(body) or {}
    message = str(answer.get("message") or f"HTTP {status} on the stream")
    if answer.get("code") == "expired":
        return Ended(EXPIRED, message)
    if status == 400:
        return Ended(POLICY_VIOLATION, message)  # a path parameter the pattern refuses: final
    return Ended(REFUSING_STATUSES.get(status, 1013 if status in LATER_STATUSES else ABNORMAL), message)


async def open_stream(stream_url: str, post_url: str, *, headers: Mapping[str, str],
                      max_size: int | None, post_timeout: float | None) -> SseConnection:
    """Open the stream; ``Refused`` (as the close code a WebSocket would get) when the
    server answers with an error, ``OSError`` when the network fails. ``headers`` go with
    the stream and every POST (cookies, ``Authorization``, ``Origin``); a POST unanswered
    after ``post_timeout`` seconds fails as a POST that lost its connection."""
    response = await http.request("GET", stream_url, {**headers, "Accept": "text/event-stream"})
    if response.status != 200:
        try:
            body = await response.read(64 * 1024)
        except (OSError, EventTooLarge):
            body = b""
        finally:
            response.close()
        raise Refused(_refusal(response.status, body))
    return SseConnection(response, post_url, headers, max_size, post_timeout)


class SseConnection:
    """An open stream, speaking in frames; the WebSocket ``Connection``'s interface."""

    #: A stream cannot answer a ping: the server's comments prove it alive.
    pingable = False
    #: A stream has no ``refresh``: at expiry it ends with 4001 and the client comes back
    #: with a fresh token.
    refreshes = False

    def __init__(self, response: http.Response, post_url: str, headers: Mapping[str, str],
                 max_size: int | None, post_timeout: float | None):
        self._response = response
        self._post_url = post_url
        self._headers = dict(headers)
        # A POST holds the namespace's writes (they go one at a time) while its handler runs:
        # one that never ends would hold every later send, and the request's own timeout.
        self._post_timeout = post_timeout
        # Unbounded as a queue; the stream's pump waits for room (``_taken``) instead, so the
        # end and the POST answers always fit.
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._taken = asyncio.Event()
        self._ended: Ended | None = None
        #: ``welcome.data.client_token``: names this stream's client in every POST.
        self._client_token = ""
        self._pump = asyncio.get_running_loop().create_task(self._read_stream(max_size), name="wsns-sse")

    @property
    def writable(self) -> bool:
        return self._ended is None

    async def read(self) -> Frame | None:
        """The next frame, None for a comment or noise; ``Gone`` once the stream ended."""
        item = await self._queue.get()
        self._taken.set()
        if item is _END:
            self._queue.put_nowait(_END)  # every later read ends too
            raise Gone()
        frame: Frame | None = item
        return frame

    async def write(self, text: bytes) -> bool:
        """POST one frame and queue its answer; False when the stream ended first."""
        if self._ended is not None:
            return False
        headers = {**self._headers, "Content-Type": "application/json", "X-Wsns-Client": self._client_token}
        try:
            async with asyncio.timeout(self._post_timeout):
                response = await http.request("POST", self._post_url, headers, text)
                try:
                    body = await response.read(ANSWER_LIMIT)
                finally:
                    response.close()
        except (OSError, TimeoutError) as error:
            self._end(Ended(ABNORMAL, f"a POST failed: {error or 'no answer in time'}"))
            return True
        if response.status >= 500:
            self._end(Ended(ABNORMAL, f"a POST failed: HTTP {response.status}"))
        elif response.status == 401:
            # The attempt's token ran out before its stream did: as a 4001, come back with a
            # fresh one (keyed requests go again); signed out for good, the next attempt is refused.
            message = (decode_answer(body) or {}).get("message")
            self._end(Ended(EXPIRED, str(message or "a POST was refused as unauthenticated")))
        else:
            self._answered(text, response.status, body)
        return True

    def _answered(self, text: bytes, status: int, body: bytes) -> None:
        answer = decode_answer(body)
        if 200 <= status < 300 and answer is not None:
            frames = answer.get("frames")
            for frame in frames if isinstance(frames, list) else []:
                self._queue.put_nowait(frame)
            if isinstance(answer.get("reply"), dict):
                self._queue.put_nowait(answer["reply"])
            return
        error = answer or {}
        data = {"code": str(error.get("code", "invalid_message")),
                "message": str(error.get("message", f"HTTP {status}"))}
        sent = decode(text)
        id = sent.get("id") if sent is not None else None
        self._queue.put_nowait({"type": "error", "data": data} | ({} if id is None else {"id": id}))

    def ended(self) -> Ended:
        return self._ended or Ended(ABNORMAL, "the stream ended")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """A stream has no close frame: the server sees the connection end."""
        self._end(Ended(code, reason))
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump

    def abort(self) -> None:
        self._end(Ended(ABNORMAL, "aborted by the client"))

    async def _read_stream(self, max_size: int | None) -> None:
        events = EventStreamParser(max_size)
        try:
            async for chunk in self._response.chunks():
                for data in events.feed(chunk):
                    await self._deliver(None if data is None else self._frame(data))
        except EventTooLarge as error:
            self._ended = self._ended or Ended(TOO_BIG, str(error))
        except OSError as error:
            self._ended = self._ended or Ended(ABNORMAL, f"the stream failed: {error}")
        finally:
            self._response.close()
            self._queue.put_nowait(_END)

    async def _deliver(self, frame: Frame | None) -> None:
        while self._queue.qsize() >= QUEUE_SIZE:
            self._taken.clear()
            await self._taken.wait()
        self._queue.put_nowait(frame)

    def _frame(self, data: str) -> Frame | None:
        frame = decode(data)
        if frame is None or not isinstance(frame.get("data"), dict):
            return frame
        if frame["type"] == "close":
            # What a WebSocket's close frame says: the server ends the stream right after it.
            code = frame["data"].get("code")
            self._ended = self._ended or Ended(code if isinstance(code, int) else ABNORMAL,
                                               str(frame["data"].get("reason", "")))
            return None
        if frame["type"] == "welcome":
            self._client_token = str(frame["data"].get("client_token", ""))
        return frame

    def _end(self, ended: Ended) -> None:
        if self._ended is None:
            self._ended = ended
        self._pump.cancel()
        self._response.close()


def decode_answer(body: bytes) -> dict[str, Any] | None:
    """A POST's JSON answer as an object, or None."""
    try:
        answer = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return answer if isinstance(answer, dict) else None
