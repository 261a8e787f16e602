"""One attempt's WebSocket: the websockets handshake, frames in and out, and how it ended.
(``sse.py`` is the other transport, behind the same interface.)

Everything a reconnect needs to decide comes out of here as an ``Ended``: the close code
(1006 when there was no close frame), the server's reason, and what the client itself
saw (a refused handshake, a refused TCP connection, a bad URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.protocol import State as SocketState
from websockets.typing import Subprotocol

from .wire import Frame, decode

ABNORMAL = 1006
#: HTTP statuses of a refused upgrade that mean what 4401/4403/4404 mean. A browser cannot
#: read them (it sees 1006), this client can: it stops instead of retrying a refusal.
REFUSING_STATUSES = {401: 4401, 403: 4403, 404: 4404}


@dataclass(frozen=True)
class Ended:
    """Why an attempt ended: ``code`` as a close code, ``message`` the server's reason or
    the client's explanation; ``invalid_url`` when no attempt can ever succeed."""

    code: int
    message: str
    invalid_url: bool = False


class Gone(Exception):
    """The connection ended (``read`` raises it, on every transport); ``ended()`` says how."""


class Refused(Exception):
    """The handshake failed; ``ended`` says how."""

    def __init__(self, ended: Ended):
        super().__init__(ended.message)
        self.ended = ended


async def open_socket(url: str, *, headers: Mapping[str, str] | None, subprotocols: list[str] | None,
                      origin: str | None, max_size: int | None, compression: bool) -> Connection:
    """Open one WebSocket; ``Refused`` (or ``OSError``, ``TimeoutError``) when it fails.
    The caller bounds the wait: the handshake has no timeout of its own here."""
    try:
        ws = await connect(url, additional_headers=dict(headers or {}), origin=origin,  # type: ignore[arg-type]
                           subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
                           open_timeout=None, ping_interval=None, close_timeout=2,
                           max_size=max_size,
                           compression="deflate" if compression else None)
    except InvalidURI as error:
        raise Refused(Ended(ABNORMAL, str(error), invalid_url=True)) from error
    except InvalidStatus as error:
        status = error.response.status_code
        code = REFUSING_STATUSES.get(status, ABNORMAL)
        raise Refused(Ended(code, f"HTTP {status} on the upgrade")) from error
    except WebSocketException as error:
        raise Refused(Ended(ABNORMAL, f"handshake failed: {error}")) from error
    return Connection(ws)


class Connection:
    """A thin shell over a websockets connection, speaking in frames."""

    #: The server answers a ``ping`` frame with ``pong``, and ``refresh`` with a new expiry.
    pingable = True
    refreshes = True

    def __init__(self, ws: ClientConnection):
        self._ws = ws

    @property
    def writable(self) -> bool:
        """Open and not closing: a write now would not be lost silently."""
        return self._ws.state is SocketState.OPEN

    async def write(self, text: bytes) -> bool:
        """Send one frame as text; False when the connection closed first (not written)."""
        try:
            await self._ws.send(text.decode())
        except ConnectionClosed:
            return False
        return True

    async def read(self) -> Frame | None:
        """The next frame, None for noise; ``Gone`` once it ended."""
        try:
            message: Any = await self._ws.recv()
        except ConnectionClosed:
            raise Gone() from None
        return decode(message)

    def ended(self) -> Ended:
        """The server's close frame; else the one this client sent (a frame over
        ``max_size`` is closed here with 1009); else 1006."""
        protocol = self._ws.protocol
        close = protocol.close_rcvd or protocol.close_sent
        return Ended(ABNORMAL, "") if close is None else Ended(close.code, close.reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)

    def abort(self) -> None:
        """Drop the TCP connection at once (a dead peer would never answer a close)."""
        self._ws.transport.abort()
