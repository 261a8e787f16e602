"""A Python peer of a namespace, with the browser client's guarantees (wsns.js's semantics):

    async with remote.connect("ws://127.0.0.1:8000/ws/rooms/1", headers={"Cookie": c}) as ns:
        ns.on("said", lambda data, frame: print(data))
        reply = await ns.request("say", {"text": "hi"}, timeout=5)

or ``ns = await remote.connect(...)`` then ``await ns.close()``. ``connect`` returns once the
namespace is open (transient failures retried with backoff meanwhile) and raises ``Denied``
when the server refuses (4401/4403/4404: final, never retried), ``Closed`` when it ends
otherwise before opening. After that the client reconnects on its own, recovers missed
frames in history namespaces, keeps ``presence`` up to date and holds sends while offline.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..recovery import Position
from .closes import Ending, State
from .errors import Closed, Denied, Disconnected, QueueFull, RemoteError, RequestError, RequestTimeout, TooBig
from .listeners import FrameStream
from .namespace import RemoteNamespace
from .options import Heartbeat, Options
from .presence import PresenceChange
from .wire import Frame

__all__ = [
    "Closed", "Denied", "Disconnected", "Ending", "Frame", "FrameStream", "Heartbeat", "Options",
    "Position", "PresenceChange", "QueueFull", "RemoteError", "RemoteNamespace", "RequestError",
    "RequestTimeout", "State", "TooBig", "connect",
]


class connect:
    """``await connect(url, ...)`` or ``async with connect(url, ...) as ns`` (a class used
    like a function, as websockets' ``connect``).

    ``url``: ws://, wss://, http:// or https://. Keyword options are ``Options``' fields:
    ``headers`` and ``query`` (a mapping, or a sync or async function called before every
    attempt), ``token`` (a string or such a function: sent as the subprotocols
    ``wsns.v1, wsns.token.<base64url>``, never in the URL), ``origin``, backoff,
    ``max_attempts``, ``connect_timeout``, ``queue_limit``, ``request_timeout``,
    ``heartbeat`` (``Heartbeat(...)`` or None), ``resync_jitter``, ``max_size``,
    ``compression``, ``transport`` (``"websocket"``, or ``"sse"``: a Server-Sent Events
    stream from ``{sse_prefix}{path}`` and one POST per frame, for networks that strip the
    upgrade; the token then goes as ``Authorization: Bearer``) and ``sse_prefix``."""

    def __init__(self, url: str, **options: Any):
        self.namespace = RemoteNamespace(url, Options(**options))

    def __await__(self) -> Generator[Any, None, RemoteNamespace]:
        return self._open().__await__()

    async def _open(self) -> RemoteNamespace:
        await self.namespace.start()
        return self.namespace

    async def __aenter__(self) -> RemoteNamespace:
        return await self._open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.namespace.close()
