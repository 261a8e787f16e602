"""A live namespace: the clients of one resource on this instance."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import CloseCode

if TYPE_CHECKING:
    from .client import Client
    from .extension import WsNamespaces
    from .pattern import Pattern


class Counters:
    """Per-namespace traffic counters, reported by ``wsns.stats()``."""

    __slots__ = ("messages_in", "messages_out", "dropped")

    def __init__(self) -> None:
        self.messages_in = 0
        self.messages_out = 0
        self.dropped: dict[str, int] = {}

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def merge(self, other: Counters) -> None:
        """Add ``other``'s counts to these (instance totals over live and dropped namespaces)."""
        self.messages_in += other.messages_in
        self.messages_out += other.messages_out
        for reason, count in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {"messages_in": self.messages_in, "messages_out": self.messages_out,
                "dropped": dict(self.dropped)}


class Namespace:
    """The clients of one resource (``path``) on this instance, and its typed ``params``.

    Broadcasting reaches every client of the path on every instance; ``deliver`` is the
    local half, used for both local broadcasts and frames relayed by the broker.
    """

    __slots__ = ("path", "params", "pattern", "clients", "counters", "created_at", "_wsns")

    def __init__(self, wsns: WsNamespaces, pattern: Pattern, path: str, params: dict[str, Any]):
        self.path = path
        self.params = params
        self.pattern = pattern
        self.clients: dict[str, Client] = {}
        self.counters = Counters()
        self.created_at = time.time()
        self._wsns = wsns

    def __len__(self) -> int:
        return len(self.clients)

    async def broadcast(self, type: str, data: Any = None, *,
                        exclude: Client | str | Iterable[Client | str] | None = None,
                        strict: bool = False) -> None:
        """Send ``{type, data}`` to every client of this namespace, on every instance,
        except ``exclude`` (clients or client ids). A broker outage is counted and logged;
        ``strict=True`` raises ``BrokerUnavailable`` for it instead."""
        self._wsns.publish(self.path, type, data, exclude, strict)

    def deliver(self, frame: bytes, exclude: tuple[str, ...] = ()) -> None:
        """Write one ready frame to every local client not excluded.

        Iterating the live dict is safe: a write never removes a client (a closed client
        leaves from its own connection task).
        """
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

    def members(self) -> list[dict[str, Any]]:
        """Local clients as others may see them: id and public identity, nothing private."""
        return [{"client_id": c.id, "public": c.public} for c in self.clients.values()]

    async def close(self, code: int = CloseCode.REMOVED, reason: str = "namespace removed") -> None:
        """Remove this namespace on every instance (see ``WsNamespaces.remove_namespace``)."""
        await self._wsns.remove_namespace(self.path, code, reason)

    def stats(self) -> dict[str, Any]:
        return {"clients": len(self.clients), "created_at": self.created_at,
                **self.counters.as_dict()}

    def __repr__(self) -> str:
        return f"<Namespace {self.path} clients={len(self.clients)}>"
