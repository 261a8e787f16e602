"""A live namespace: the clients of one resource on this instance."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .counters import Counters
from .errors import CloseCode

if TYPE_CHECKING:
    from .broadcast_handle import Broadcast
    from .client import Client
    from .deflate import FrameDeflater
    from .feed import Feed
    from .interfaces import Exclude, Publisher
    from .pattern import Pattern
    from .tracker import NamespacePresence


class Namespace:
    """The clients of one resource (``path``) on this instance, and its typed ``params``.

    Broadcasting reaches every client of the path on every instance; ``deliver`` is the
    local half, used for both local broadcasts and frames relayed by the broker.
    """

    __slots__ = ("path", "params", "pattern", "clients", "counters", "created_at", "feed",
                 "tracked", "ready", "removed", "deflater", "_publisher")

    def __init__(self, publisher: Publisher, pattern: Pattern, path: str, params: dict[str, Any],
                 deflater: FrameDeflater | None = None):
        self.path = path
        self.params = params
        self.pattern = pattern
        self.clients: dict[str, Client] = {}
        self.counters = Counters()
        self.created_at = time.time()
        #: History namespaces: frames in offset order, gaps filled, clients caught up.
        self.feed: Feed | None = None
        #: Presence namespaces: its presence as this instance tracks it (tracker.py).
        self.tracked: NamespacePresence | None = None
        #: History or presence namespaces: their state read from the broker (the first
        #: client waits for it).
        self.ready: asyncio.Future[None] | None = None
        #: The close code and reason it was removed with (``remove_namespace``).
        self.removed: tuple[int, str] | None = None
        #: With ``WSNS_COMPRESSION``: compresses each delivered frame once for the clients
        #: that agreed on permessage-deflate.
        self.deflater = deflater
        self._publisher = publisher

    def __len__(self) -> int:
        return len(self.clients)

    @property
    def empty(self) -> bool:
        """No client, and none on its way in (a returning client of a history namespace
        is admitted only after its missed frames were read)."""
        return not self.clients and (self.feed is None or not self.feed.arriving)

    def broadcast(self, type: str, data: Any = None, *, exclude: Exclude = None,
                  strict: bool = False, confirm: bool = False, key: str | None = None) -> Broadcast:
        """Send ``{type, data}`` to every client of this namespace, on every instance,
        except ``exclude`` (clients or client ids).

        The frame is encoded and queued at the call, in call order: nothing to await to
        send it. The returned ``Broadcast`` is awaitable, for what only the broker can tell.
        Without history ``await`` gives ``None``: a broker outage is counted and logged,
        ``strict=True`` makes the await raise ``BrokerUnavailable`` for it instead (known at
        the call), and with ``confirm=True`` the await waits until the broker wrote the frame
        (raising if it did not). With history the broker numbers the frame; the await gives
        its position, or raises ``BrokerUnavailable`` when no offset could be had (nobody got
        the frame; counted and logged whether or not anybody awaits).

        ``key`` (1 to 64 of ``[A-Za-z0-9_.:-]``) makes it idempotent: another broadcast with
        the same key in this namespace within ``WSNS_IDEMPOTENCY_WINDOW``, from any instance
        or emitter, is not delivered again and the await gives the first one's position.
        Without history the key is claimed first (a round trip): such a broadcast can be
        overtaken by a later one unless it is awaited. With history it keeps call order.
        """
        return self._publisher.broadcast(self.pattern.history, self.path, type, data, exclude,
                                         strict=strict, confirm=confirm, key=key)

    async def presence(self) -> dict[str, Any]:
        """Who is in this namespace, on every instance: client id → public identity."""
        return await self._publisher.presence(self.path)

    async def update_presence(self, client: Client, public: Any) -> None:
        """``client`` shows ``public`` from now on (see ``Client.update_presence``)."""
        self._publisher.update_presence(client, public)

    def deliver(self, frame: bytes, exclude: tuple[str, ...] = ()) -> None:
        """Write one ready frame to every local client not excluded.

        Iterating the live dict is safe: a write never removes a client (a closed client
        leaves from its own connection task).
        """
        if self.deflater is not None:
            self._deliver_deflating(frame, exclude)
            return
        sent = 0
        if exclude:
            for client in self.clients.values():
                if client.id not in exclude and client.write(frame):
                    sent += 1
        else:
            for client in self.clients.values():
                if client.write(frame):
                    sent += 1
        self.counters.messages_out += sent

    def send_to(self, client: Client, frame: bytes) -> bool:
        """Write one ready frame to one client (a reply, ``Client.send``), counted as
        ``deliver`` counts its frames; ``False`` if the client is gone."""
        if client.write(frame):
            self.counters.messages_out += 1
            return True
        return False

    def _deliver_deflating(self, frame: bytes, exclude: tuple[str, ...]) -> None:
        """``deliver`` where clients may have agreed on permessage-deflate: the frame is
        compressed once, at the first such client, and those clients all get the same
        compressed bytes; the others get ``frame``."""
        compressed: bytes | None = None
        sent = 0
        for client in self.clients.values():
            if exclude and client.id in exclude:
                continue
            deflater = client.deflater
            if deflater is None:
                written = client.write(frame)
            else:
                if compressed is None:
                    compressed = deflater.deflate(frame)
                written = client.write(compressed)
            if written:
                sent += 1
        self.counters.messages_out += sent

    def members(self) -> list[dict[str, Any]]:
        """Local clients as others may see them: id and public identity, nothing private."""
        return [{"client_id": c.id, "public": c.public} for c in self.clients.values()]

    async def close(self, code: int = CloseCode.REMOVED, reason: str = "namespace removed") -> None:
        """Remove this namespace on every instance (see ``WsNamespaces.remove_namespace``)."""
        await self._publisher.remove_namespace(self.path, code, reason)

    def stats(self) -> dict[str, Any]:
        return {"clients": len(self.clients), "created_at": self.created_at,
                **self.counters.as_dict()}

    def __repr__(self) -> str:
        return f"<Namespace {self.path} clients={len(self.clients)}>"
