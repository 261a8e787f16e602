"""What the client puts on the wire and reads from it, without I/O: frames, the upgrade
URL of one attempt, the token's subprotocols."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from ..tokens import PROTOCOL, encode_token

#: A frame as it came from the server: ``{"type", "data"?, "id"?, "offset"?}``.
Frame = dict[str, Any]
#: Extra upgrade-URL parameters; None values are left out.
QueryParams = Mapping[str, str | int | float | bool | None]

#: Recovery's parameters: the client's own values win, the app's are never sent.
RESERVED_QUERY = ("since", "epoch")

_decoder = msgspec.json.Decoder()


def encode(type: str, data: Any, id: int | None = None, key: str | None = None) -> bytes:
    """A client frame; a request when ``id`` is given, keyed (v1.2) when ``key`` is too."""
    if not isinstance(type, str) or not type:
        raise TypeError("message type must be a non-empty string")
    frame: dict[str, Any] = {"type": type, "data": data}
    if id is not None:
        frame["id"] = id
        if key is not None:
            frame["key"] = key
    return msgspec.json.encode(frame)


def request_key() -> str:
    """A random request key (v1.2): 128 bits, in the server's key alphabet."""
    return secrets.token_hex(16)


def decode(text: str | bytes) -> Frame | None:
    """A server frame, or None for anything that is not a JSON object with a string type
    (the server only sends those: anything else is noise to ignore)."""
    try:
        frame = _decoder.decode(text)
    except msgspec.DecodeError:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    return frame


def _query_value(value: str | int | float | bool) -> str:
    # As wsns.js's String(value): true/false, not Python's True/False.
    return str(value).lower() if isinstance(value, bool) else str(value)


def attempt_url(base: str, query: QueryParams | None, recovery: Mapping[str, str]) -> str:
    """``base`` with the app's ``query`` (reserved names left out) and the client's
    recovery parameters."""
    parts = urlsplit(base)
    params = {name: value for name, value in parse_qsl(parts.query, keep_blank_values=True)
              if name not in RESERVED_QUERY}
    for name, value in (query or {}).items():
        if value is not None and name not in RESERVED_QUERY:
            params[name] = _query_value(value)
    params.update(recovery)
    return urlunsplit(parts._replace(query=urlencode(params)))


def websocket_url(url: str) -> str:
    """``url`` as ws:// or wss:// (http and https are mapped); ValueError for anything else."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc or parts.fragment:
        raise ValueError(f"not a WebSocket URL: {url}")
    return urlunsplit(parts._replace(scheme=scheme))


def sse_url(url: str, prefix: str) -> str:
    """The http(s):// URL of a namespace's SSE stream and POSTs: ``prefix`` before the path,
    on the same host (``url`` as ``websocket_url`` takes it)."""
    parts = urlsplit(websocket_url(url))
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit(parts._replace(scheme=scheme, path=prefix.rstrip("/") + parts.path))


def subprotocols(token: str | None) -> list[str] | None:
    """What ``Sec-WebSocket-Protocol`` offers: the token travels there (core idea 15), never
    in the URL where logs and proxies would keep it. Without a token nothing is offered."""
    if token is None:
        return None
    return [PROTOCOL, encode_token(token)]
