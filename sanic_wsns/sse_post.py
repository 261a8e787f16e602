"""One client frame sent as a POST (core idea 13), to any instance.

An SSE client sends its messages as ``POST {sse_prefix}{path}``, one frame per request,
with ``X-Wsns-Client: <welcome.data.client_token>``. The instance that receives it need
not hold the stream: the token (``client_tokens.py``) proves which client the frame comes
from, for the user this POST's own authorization names. The frame is screened as a
WebSocket message is (size, rate, envelope, ``ping``, keys) and answered by the same
handler (``connection.answer_to``), whose ``client`` is a ``PostClient``: what the
handler sends to "this client" during the request comes back in the response,
``{"reply": ..., "frames": [...]}``, and ``exclude=client`` excludes the stream with
that id, on every instance (its id travels with the broadcast).
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
from .limits import TokenBucket
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


class PostClient(Client):
    """The client of one POST: the stream's id and this request's identity; what the
    handler sends it is kept for the response (at most ``max_send_queue`` bytes, as a
    stream would hold)."""

    transport = "post"

    __slots__ = ("frames", "_kept")

    def __init__(self, id: str, namespace: Namespace, request: Request, admission: Admission,
                 bucket: TokenBucket, max_send_queue: int):
        self._admitted(id, namespace, request, admission.identity, admission.public, bucket,
                       max_send_queue, admission.user, admission.expires_at)
        self.frames: list[bytes] = []
        self._kept = 0

    @property
    def open(self) -> bool:
        return not self._closing

    @property
    def close_code(self) -> int | None:
        return None

    def write(self, frame: bytes) -> bool:
        if self._closing:
            return False
        data = payload(frame)
        self._kept += len(data)
        if self._kept > self._max_queue:
            self.namespace.counters.drop("slow_consumer")
            self._closing = True  # the response keeps what fitted; more would be unbounded
            return False
        self.frames.append(data)
        return True

    def keepalive(self, now: float, interval: float, timeout: float) -> None:
        """Nothing: a POST is not a connection."""

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        self.abort(code, reason)

    def abort(self, code: int, reason: str) -> None:
        """A POST has no connection to close: nothing more is kept for its response."""
        self._closing = True


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
    client = PostClient(client_id, ns, request, admission, bucket, hub.settings.max_send_queue)
    answer = await answer_to(ns, client, screened, hub.requests)
    return raw(post_answer(answer, client.frames), content_type="application/json")
