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
from .namespace import Namespace
from .pattern import Identity, Pattern
from .registry import OverCapacity

__version__ = "0.1.0"

__all__ = [
    "BrokerUnavailable", "Client", "CloseCode", "ConfigError", "Conflict", "Denied", "ErrorCode", "Forbidden",
    "Identity", "InvalidData", "Namespace", "NotFound", "OverCapacity", "Pattern", "Settings",
    "Unauthorized", "WsNamespaces", "WsnsError", "WsnsExtension",
]
