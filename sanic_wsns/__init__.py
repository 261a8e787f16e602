"""sanic-wsns: one WebSocket namespace per resource, for Sanic."""

from typing import TYPE_CHECKING, Any

from .broadcast_handle import Broadcast
from .client import Client
from .config import Settings
from .errors import (
    BrokerUnavailable,
    CloseCode,
    ConfigError,
    Conflict,
    Denied,
    ErrorCode,
    Forbidden,
    InvalidData,
    NotFound,
    OverCapacity,
    Unauthorized,
    WsnsError,
)
from .extension import WsNamespaces
from .history import History
from .namespace import Namespace
from .pattern import Identity, Pattern
from .recovery import Position, ResyncReason

if TYPE_CHECKING:
    from .extend import WsnsExtension as WsnsExtension

__version__ = "0.1.0"

__all__ = [
    "Broadcast", "BrokerUnavailable", "Client", "CloseCode", "ConfigError", "Conflict", "Denied", "ErrorCode",
    "Forbidden", "History", "Identity", "InvalidData", "Namespace", "NotFound", "OverCapacity", "Pattern",
    "Position", "ResyncReason", "Settings", "Unauthorized", "WsNamespaces", "WsnsError",
]


def __getattr__(name: str) -> Any:
    """``WsnsExtension`` is imported when asked for, not with the package: it needs sanic-ext,
    an optional extra that, once importable, Sanic applies to every app (see ``extend``).
    Kept out of ``__all__`` so that ``from sanic_wsns import *`` works without it."""
    if name == "WsnsExtension":
        from .extend import WsnsExtension

        return WsnsExtension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
