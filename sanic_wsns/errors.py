"""Every error a user of sanic-wsns can cause, and the code it maps to.

One hierarchy serves both ends of a connection's life: raised from an ``authorize``
hook, ``Unauthorized``/``Forbidden``/``NotFound`` close the handshake with 4401/4403/4404;
raised from a message handler, any ``WsnsError`` becomes an ``error`` frame with its
``code`` (``not_found``, ``conflict``...) and the connection stays open.
"""

from __future__ import annotations

from typing import Any


class CloseCode:
    """WebSocket close codes used by sanic-wsns (wire protocol v1)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down: retry
    POLICY_VIOLATION = 1008  # sustained abuse, bad path params
    TOO_BIG = 1009  # a frame over max_frame_size (sent by websockets' protocol, not by our code)
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013  # slow consumer or over capacity: retry with backoff
    EXPIRED = 4001  # the identity expired: reconnect with a fresh token (not final)
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    REMOVED = 4410  # namespace removed (resource deleted)


class ErrorCode:
    """``error`` frame codes (wire protocol v1)."""

    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_DATA = "invalid_data"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INTERNAL = "internal"


class WsnsError(Exception):
    """An error the client should see as an ``error`` frame.

    Raise it (or a subclass) from a message handler; ``details`` travels to the client
    as ``data.details`` and must be encodable (a Struct, dict, list, scalar).
    """

    code: str = ErrorCode.INTERNAL
    close_code: int = CloseCode.INTERNAL_ERROR

    def __init__(self, message: str = "", details: Any = None, *, code: str | None = None):
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.code.replace("_", " ")
        self.details = details
        if code is not None:
            self.code = code


class InvalidMessage(WsnsError):
    code = ErrorCode.INVALID_MESSAGE


class InvalidData(WsnsError):
    code = ErrorCode.INVALID_DATA


class Conflict(WsnsError):
    code = ErrorCode.CONFLICT


class Denied(WsnsError):
    """Base of the denials an ``authorize`` hook may raise; each has its close code."""


class Unauthorized(Denied):
    """No valid credentials: close 4401 at connect, ``unauthorized`` in a handler."""

    code = ErrorCode.UNAUTHORIZED
    close_code = CloseCode.UNAUTHENTICATED


class Forbidden(Denied):
    """Known identity, no access: close 4403 at connect, ``forbidden`` in a handler."""

    code = ErrorCode.FORBIDDEN
    close_code = CloseCode.FORBIDDEN


class NotFound(Denied):
    """No such resource: close 4404 at connect, ``not_found`` in a handler."""

    code = ErrorCode.NOT_FOUND
    close_code = CloseCode.NOT_FOUND


class BrokerUnavailable(WsnsError):
    """The broker could not take a broadcast. Raised by ``broadcast(..., strict=True)``
    (the local clients got the frame, other instances' clients did not), by
    ``broadcast(..., confirm=True)``, and by any broadcast in a history namespace, which
    cannot get an offset without the broker (then nobody got the frame). Uncaught in a
    handler, the client sees an ``internal`` error."""


class OverCapacity(Exception):
    """This instance already hosts its maximum number of namespaces: raised by
    ``create_namespace``; a connecting client is closed with 1013 instead."""


class ConfigError(Exception):
    """A programming or configuration mistake detected at declaration or start-up.

    Not a ``ValueError``: the ``sanic`` CLI catches ``ValueError`` while it loads an app,
    logs it and exits 0, so a misspelt setting would pass unnoticed by systemd's
    ``Restart=on-failure`` and by CI. Uncaught, it stops the process with status 1."""
