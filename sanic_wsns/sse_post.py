"""One client frame sent as a POST (core idea 13), to any instance.

An SSE client sends its messages as ``POST {sse_prefix}{path}``, one frame per request,
with ``X-Wsns-Client: <welcome.data.client_token>``. The instance that receives it need
not hold the stream: the token (``client_tokens.py``) proves which client the frame comes
from, for the user this POST's own authorization names. The frame is screened as a
WebSocket message is (size, rate, envelope, ``ping``, keys) and answered by the same
handler (``connection.answer_to``), whose ``client`` is a ``Client`` over a
``PostSocket``: what the handler sends to "this client" during the request comes back in
the response, ``{"reply": ..., "frames": [...]}``, and ``exclude=client`` excludes the
stream with that id, on every instance (its id travels with the broadcast).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sanic.response import HTTPResponse, json, raw

from .admission import Admission, ConnectRate, Refusal
from .client import Client
from .connection import answer_to
from .errors import CloseCode, ErrorCode
from .namespace import Namespace
from .protocol import Incoming, encode_error
from .screening import Abort, Answer, screen
from .sse import payload, post_answer
from .sse_stream import refused

if TYPE_CHECKING:
    from sanic import Request

    from .client_tokens import ClientTokens
    from .hub import Hub

logger = logging.getLogger("sanic_wsns")

CLIENT_HEADER = "x-wsns-client"


class PostSocket:
    """The ``ClientSocket`` of one POST's client (the stream's id, this request's
    identity): what the handler sends it is kept for the response (``KeptFrames``); a POST
    has no connection to close, and is never pinged."""

    kind = "post"

    __slots__ = ("transport",)

    def __init__(self, max_send_queue: int):
        self.transport = KeptFrames(max_send_queue)

    def is_open(self) -> bool:
        return not self.transport.is_closing()

    def close_code_sent(self) -> int | None:
        return None

    def awaiting_pong(self, payload: bytes) -> bool:
        return False

    def ping(self, payload: bytes) -> None:
        """Nothing: a POST is not a connection."""

    async def close(self, code: int, reason: str) -> None:
        self.abort(code, reason)

    def abort(self, code: int, reason: str) -> None:
        """Nothing more is kept for the response."""
        self.transport.abort()


class KeptFrames:
    """The payloads of the frames written, for the response: at most ``limit`` bytes, as
    a stream would hold; what the write past it brings is not kept (``Client.write``
    then counts the client a slow consumer, and nothing more is written)."""

    __slots__ = ("frames", "_kept", "_limit", "_closed")

    def __init__(self, limit: int):
        self.frames: list[bytes] = []
        self._kept = 0
        self._limit = limit
        self._closed = False

    def write(self, data: bytes) -> None:
        frame = payload(data)
        self._kept += len(frame)
        if self._kept <= self._limit:
            self.frames.append(frame)

    def writelines(self, data: list[bytes]) -> None:
        for frame in data:
            self.write(frame)

    def is_closing(self) -> bool:
        return self._closed

    def get_write_buffer_size(self) -> int:
        return self._kept

    def abort(self) -> None:
        self._closed = True


async def post(hub: Hub, request: Request, admission: Admission, tokens: ClientTokens,
               buckets: ConnectRate) -> HTTPResponse:
    """Answer one POSTed frame of the stream ``X-Wsns-Client`` names."""
    client_id = tokens.client_id(request.headers.get(CLIENT_HEADER), admission.path, admission.user)
    if client_id is None:
        refusal = Refusal(CloseCode.FORBIDDEN, "X-Wsns-Client is missing, or is not a stream of this "
                                               "user in this namespace")
        hub.refuse(refusal)
        return refused(refusal)
    body = request.body
    if len(body) > hub.settings.max_frame_size:
        return json({"code": "too_big", "message": f"a frame is at most {hub.settings.max_frame_size} "
                     "bytes"}, status=413)
    now = asyncio.get_running_loop().time()
    bucket = buckets.bucket(client_id, now)
    assert bucket is not None  # a client id is a hashable str, and the rate is set
    ns = hub.registry.get(admission.path) or Namespace(hub, admission.pattern, admission.path,
                                                       admission.params)
    ns.counters.messages_in += 1
    try:
        screened = screen(body.decode(), bucket, now)
    except UnicodeDecodeError:
        screened = Answer(encode_error(ErrorCode.INVALID_MESSAGE, "the body is not UTF-8"))
    if type(screened) is Abort:
        ns.counters.drop(screened.dropped)
        return json({"code": ErrorCode.RATE_LIMITED, "message": screened.reason}, status=429,
                    headers={"Retry-After": "10"})
    if type(screened) is Answer:
        if screened.dropped is not None:
            ns.counters.drop(screened.dropped)
        return raw(post_answer(screened.payload, []), content_type="application/json")
    assert type(screened) is Incoming
    socket = PostSocket(hub.settings.max_send_queue)
    client = Client(client_id, ns, socket, request, admission.identity, admission.public, bucket,
                    hub.settings.max_send_queue, admission.user, admission.expires_at)
    answer = await answer_to(ns, client, screened, hub.requests)
    return raw(post_answer(answer, socket.transport.frames), content_type="application/json")
