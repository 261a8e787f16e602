"""What the Python client raises: one base class carrying the ``code`` wsns.js puts on its
``WsnsError``, so an app branches on the same strings in both clients.

``code`` is a protocol error code from the server (``invalid_data``, ``conflict``...) or a
client code: ``timeout``, ``disconnected`` (the connection dropped after the request was
sent: it may or may not have been handled), ``closed``, ``queue_full``, ``too_big``, or
for ``Denied`` the refusal (``unauthenticated``, ``forbidden``, ``not_found``, ``denied``).
"""

from __future__ import annotations

from typing import Any


class RemoteError(Exception):
    """Base of every error of ``sanic_wsns.remote``."""

    def __init__(self, code: str, message: str, details: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


class RequestError(RemoteError):
    """The server answered a request with an ``error`` frame (``code`` is the server's)."""


class RequestTimeout(RemoteError, TimeoutError):
    """No reply within the request's timeout; also a ``TimeoutError``."""

    def __init__(self, message: str):
        super().__init__("timeout", message)


class Disconnected(RemoteError):
    """The connection dropped after the request was written: it may have been handled."""

    def __init__(self, message: str = "the connection dropped before the reply"):
        super().__init__("disconnected", message)


class Closed(RemoteError):
    """The namespace is closed for good; ``details`` is its ``Ending``."""

    def __init__(self, message: str, details: Any = None):
        super().__init__("closed", message, details)


class Denied(RemoteError):
    """The server refused the connection (close 44xx): it is final, never retried.

    ``code`` names the refusal; ``close_code`` and ``reason`` are the server's close frame."""

    def __init__(self, code: str, close_code: int, reason: str):
        super().__init__(code, f"denied with {close_code}" + (f": {reason}" if reason else ""))
        self.close_code = close_code
        self.reason = reason


class QueueFull(RemoteError):
    """Too many messages held while the connection is not open."""

    def __init__(self, limit: int):
        super().__init__("queue_full", f"more than {limit} messages waiting to be sent")


class TooBig(RemoteError):
    """The encoded frame is over the server's ``max_frame_size`` (from its welcome)."""

    def __init__(self, limit: int):
        super().__init__("too_big", f"frame over the server's limit of {limit} bytes")
