"""The ``client_token`` of an SSE stream (core idea 13), without I/O.

A stream's client sends its frames as POSTs, to any instance; ``X-Wsns-Client`` names
the stream's client id so that the handler's ``client`` is that stream (its frames,
``exclude=client``). The id alone would let anyone act as, or exclude, any client whose
id they saw (ids appear in presence), so the token is the id signed with a secret every
instance shares (``WSNS_SSE_SECRET``, or one kept in Redis: ``extension.py``), bound to
the namespace and to the identity's user: a POST is refused unless its own authorization names the same user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from .idempotency import request_name

#: Characters of a client id (``<instance hex>-<counter hex>``) a token may carry.
MAX_CLIENT_ID = 64


class ClientTokens:
    """Signs and checks the tokens of one deployment's streams."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes):
        self._secret = secret

    def sign(self, path: str, client_id: str, user: Any) -> str:
        """The token of ``client_id`` in the namespace ``path``, for ``user``."""
        return f"{client_id}.{self._mac(path, client_id, user)}"

    def client_id(self, token: str | None, path: str, user: Any) -> str | None:
        """The client id ``token`` names, if it was signed for ``path`` and ``user``."""
        if token is None or len(token) > MAX_CLIENT_ID + 64:
            return None
        client_id, _, mac = token.rpartition(".")
        if not client_id or len(client_id) > MAX_CLIENT_ID:
            return None
        return client_id if hmac.compare_digest(mac, self._mac(path, client_id, user)) else None

    def _mac(self, path: str, client_id: str, user: Any) -> str:
        message = f"{path}\0{request_name(user, client_id)}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()
