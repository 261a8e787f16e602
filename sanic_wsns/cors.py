"""CORS for the SSE stream and its POSTs (core idea 13), as pure functions.

A WebSocket needs no CORS: the Origin check (``origins.py``) is the whole rule. A page on
another origin that reads an SSE stream (``EventSource``, ``fetch``) or POSTs a frame
needs the browser's permission as well, which the answer gives: for an origin the Origin
check allows (``WSNS_ALLOWED_ORIGINS``), ``Access-Control-Allow-Origin: <that origin>``
(never ``*``: it would forbid cookies) with ``Access-Control-Allow-Credentials: true``, as
Centrifugo answers its SSE and HTTP-streaming requests: an origin the operator listed may
already open a WebSocket with the user's cookies, so its stream may carry them too.
``Vary: Origin`` keeps a cache from serving one origin's answer to another. An origin not
allowed gets no CORS header (and is refused, as a WebSocket is).
"""

from __future__ import annotations

from collections.abc import Iterable

from .origins import origin_allowed

#: What a preflight (``OPTIONS``) allows: the stream's ``GET`` with a token or a
#: ``Last-Event-ID``, the POST's JSON body and its client token.
ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Authorization, Content-Type, Last-Event-ID, X-Wsns-Client"
#: Seconds a browser may keep a preflight's answer.
PREFLIGHT_MAX_AGE = "600"


def cors_headers(origin: str | None, host: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """The CORS headers of an answer to ``origin``: none without an Origin (not a browser's
    cross-origin request) or for an origin not allowed."""
    if origin is None or not origin_allowed(origin, host, allowed):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin"}


def preflight_headers(origin: str | None, host: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """The answer to a preflight: the CORS headers and what the stream and POST accept;
    nothing for an origin not allowed (the browser then refuses the request itself)."""
    headers = cors_headers(origin, host, allowed)
    if headers:
        headers |= {"Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}
    return headers
