"""sanic-wsns: one WebSocket namespace per resource, for Sanic."""

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
    Unauthorized,
    WsnsError,
)
from .extend import WsnsExtension
from .extension import WsNamespaces
from .history import History
from .namespace import Namespace
from .pattern import Identity, Pattern
from .recovery import Position, ResyncReason
from .registry import OverCapacity

__version__ = "0.1.0"

__all__ = [
    "BrokerUnavailable", "Client", "CloseCode", "ConfigError", "Conflict", "Denied", "ErrorCode", "Forbidden",
    "History", "Identity", "InvalidData", "Namespace", "NotFound", "OverCapacity", "Pattern", "Position",
    "ResyncReason", "Settings", "Unauthorized", "WsNamespaces", "WsnsError", "WsnsExtension",
]
