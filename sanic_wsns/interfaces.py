"""The narrow interfaces the lower modules use, so none of them depends on the extension.

A ``Namespace`` and a ``Pattern`` only ever broadcast to a path, ask who is there, and
remove a namespace: they take a ``Publisher`` (the ``Hub`` is one), not the whole
``WsNamespaces``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from .client import Client
    from .pattern import Pattern
    from .recovery import Position

#: Clients (or client ids) a broadcast skips.
Exclude: TypeAlias = "Client | str | Iterable[Client | str] | None"


class Publisher(Protocol):
    """Broadcasts to a canonical namespace path and removes namespaces, on every instance."""

    async def broadcast(self, pattern: Pattern, path: str, type: str, data: Any = None,
                        exclude: Exclude = None, *, strict: bool = False,
                        confirm: bool = False, key: str | None = None) -> Position | None:
        """Encode ``{type, data}`` once and send it to every client of ``path`` everywhere;
        in a history namespace, its position once the broker numbered it. With ``key``, at
        most once per key within the idempotency window."""

    async def presence(self, path: str) -> dict[str, Any]:
        """Who is in ``path``'s namespace, on every instance: client id → public identity."""

    def update_presence(self, client: Client, public: Any) -> None:
        """``client`` shows ``public`` in its namespace's presence from now on."""

    async def remove_namespace(self, path: str, code: int, reason: str, *,
                               everywhere: bool = True) -> None:
        """Close ``path``'s clients with ``code`` and drop the namespace."""
