"""The client's knobs, with wsns.js's defaults (in seconds where wsns.js counts ms)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .wire import QueryParams

#: A string, or an (async) function called before every attempt, e.g. to fetch a fresh token.
Fresh = Callable[[], "Awaitable[str] | str"]
QueryOption = QueryParams | Callable[[], "Awaitable[QueryParams] | QueryParams"]
HeadersOption = Mapping[str, str] | Callable[[], "Awaitable[Mapping[str, str]] | Mapping[str, str]"]


@dataclass(frozen=True)
class Heartbeat:
    """App-level ping/pong that finds a connection which died without a close (a frozen
    peer, a NAT that forgot the flow). ``interval`` defaults to the welcome's
    ``heartbeat_interval``; ``timeout`` (any frame after a ping) to the interval, at most 10 s."""

    interval: float | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Options:
    headers: HeadersOption | None = None
    query: QueryOption | None = None
    token: str | Fresh | None = None
    origin: str | None = None
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    backoff_factor: float = 2.0
    #: Consecutive failed reconnects before giving up (state ``closed``, reason ``gave_up``).
    max_attempts: float = math.inf
    #: Seconds a connection must stay open before the backoff starts again from its base.
    stable_after: float = 10.0
    #: Seconds from the start of an attempt (query, headers and token included) to its welcome.
    connect_timeout: float = 10.0
    #: Sends and requests held while not open.
    queue_limit: int = 100
    request_timeout: float | None = 10.0
    heartbeat: Heartbeat | None = field(default_factory=Heartbeat)
    #: ``resync`` listeners run after a random delay in [0, resync_jitter) s; 0: at once.
    resync_jitter: float = 3.0
    #: Largest frame accepted from the server (None: no limit).
    max_size: int | None = 2**20
    #: v1.2: "websocket", or "sse": a Server-Sent Events stream from the server and one POST
    #: per frame to it (any instance answers), for networks that strip the upgrade.
    transport: Literal["websocket", "sse"] = "websocket"
    #: The server's ``WSNS_SSE_PREFIX``: the stream and the POSTs go to ``{sse_prefix}{path}``.
    sse_prefix: str = "/wsns/sse"
    #: Offer permessage-deflate, as browsers do: a server with ``WSNS_COMPRESSION`` on then
    #: sends large frames compressed (and asks this client to compress each message on its
    #: own, so the connection keeps no zlib state between messages).
    compression: bool = True
