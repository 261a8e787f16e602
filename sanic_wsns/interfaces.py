"""The narrow interfaces the lower modules use, so none of them depends on the extension.

A ``Namespace`` and a ``Pattern`` only ever publish to a path and remove a namespace: they
take a ``Publisher`` (the ``Hub`` is one), not the whole ``WsNamespaces``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from .client import Client

#: Clients (or client ids) a broadcast skips.
Exclude: TypeAlias = "Client | str | Iterable[Client | str] | None"


class Publisher(Protocol):
    """Broadcasts to a canonical namespace path and removes namespaces, on every instance."""

    def publish(self, path: str, type: str, data: Any = None, exclude: Exclude = None,
                strict: bool = False) -> None:
        """Encode ``{type, data}`` once and send it to every client of ``path`` everywhere."""

    async def remove_namespace(self, path: str, code: int, reason: str, *,
                               everywhere: bool = True) -> None:
        """Close ``path``'s clients with ``code`` and drop the namespace."""
