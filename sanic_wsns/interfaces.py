"""The narrow interfaces the lower modules use, so none of them depends on the extension.

A leaf: it names no concrete class of the package (only the value types of a broadcast's
answer and settings, under ``TYPE_CHECKING``), so any module may import it without an
import cycle. A ``Namespace`` and a ``Pattern`` only ever broadcast to a path, ask who is
there, and remove a namespace: they take a ``Publisher`` (the ``Hub`` is one), not the
whole ``WsNamespaces``; the keepalive sweep, the feed and presence take the one or two
methods of a client they call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from .broadcast_handle import Broadcast
    from .history import History


class HasId(Protocol):
    """Anything with a client id (a ``Client``)."""

    @property
    def id(self) -> str: ...


class Recipient(Protocol):
    """A client frames are written to, one at a time (``Client.write``)."""

    @property
    def id(self) -> str: ...

    def write(self, frame: bytes) -> bool: ...

    def write_many(self, frames: list[bytes]) -> bool: ...


class KeptAlive(Protocol):
    """A connection the keepalive sweep pings (``Client.keepalive``)."""

    def keepalive(self, now: float, interval: float, timeout: float) -> None: ...


class FrameWriter(Protocol):
    """Where a ``Client`` writes its frames, with no call in between: a WebSocket's own
    transport (``asyncio.WriteTransport`` is one), an SSE stream's events, a POST's kept
    frames. Its buffer is the client's send queue (``Client.write`` bounds it)."""

    def write(self, data: bytes) -> None: ...

    def writelines(self, data: list[bytes]) -> None:
        """Several frames in one write: a returning client's missed frames go out in one
        send, not one per frame."""

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...

    def abort(self) -> None: ...


class ClientSocket(Protocol):
    """What a ``Client`` needs of whatever carries it (the transport seam, as Phoenix's
    ``Socket.Transport``): a WebSocket (``sanic_internals.FrameSink``, the one door to
    Sanic's), an SSE stream (``sse_stream.EventStream``) or a POST (``sse_post.PostSocket``)."""

    #: What carries the frames, by name (``wsns_transport_connections{transport}``).
    kind: str

    @property
    def transport(self) -> FrameWriter:
        """Where frames are written, straight into its buffer."""

    def is_open(self) -> bool:
        """Whether frames may still follow (for a WebSocket: no Close sent or received)."""

    def close_code_sent(self) -> int | None:
        """The code of the Close this server sent, ``None`` before it sent one."""

    def awaiting_pong(self, payload: bytes) -> bool:
        """Whether the ping sent with ``payload`` is still unanswered."""

    def ping(self, payload: bytes) -> None:
        """Send a ping whose pong is awaited (``awaiting_pong``) until it comes."""

    def abort(self, code: int, reason: str) -> None:
        """Send a Close with ``code`` and drop the connection, without waiting."""

    async def close(self, code: int, reason: str) -> None:
        """Close with a handshake."""


class CountsResyncs(Protocol):
    """Where a feed counts the ``resync`` frames it sends (``InstanceStats``)."""

    def resync(self, reason: str) -> None: ...


#: Clients (or client ids) a broadcast skips.
Exclude: TypeAlias = "HasId | str | Iterable[HasId | str] | None"
#: ``deliver(frame, exclude)``: write one ready frame to every local client of a namespace
#: but the client ids in ``exclude``.
Deliver = Callable[[bytes, tuple[str, ...]], None]


class Publisher(Protocol):
    """Broadcasts to a canonical namespace path and removes namespaces, on every instance."""

    def broadcast(self, history: History | None, path: str, type: str, data: Any = None,
                  exclude: Exclude = None, *, strict: bool = False,
                  confirm: bool = False, key: str | None = None) -> Broadcast:
        """Encode ``{type, data}`` once and send it to every client of ``path`` everywhere,
        queued at the call; awaited, the handle gives in a history namespace (``history``:
        its pattern's settings) the frame's position once the broker numbered it. With
        ``key``, at most once per key within the idempotency window."""

    async def presence(self, path: str) -> dict[str, Any]:
        """Who is in ``path``'s namespace, on every instance: client id → public identity."""

    def update_presence(self, client: Any, public: Any) -> None:
        """``client`` (a ``Client``: this module names no concrete class) shows ``public``
        in its namespace's presence from now on."""

    async def remove_namespace(self, path: str, code: int, reason: str, *,
                               everywhere: bool = True) -> None:
        """Close ``path``'s clients with ``code`` and drop the namespace."""
