"""Brokers carry encoded frames between instances; ``create_broker`` picks one by URL scheme
(``urls.py`` says which URLs are accepted and refuses the rest at construction), or the app
passes one it built (``WsNamespaces(app, broker=RedisBroker(url))``). What a broker does,
role by role: ``roles.py``."""

from __future__ import annotations

from importlib import import_module

from .base import Broker, redact
from .roles import HistoryStore, MessageCallback, PresenceStore, PubSub, RequestStore, RestoredCallback
from .urls import BrokerUrl, parse_broker_url

#: Backend -> "module:class", imported only when used (redis is optional at import time).
BACKENDS = {
    "memory": "sanic_wsns.broker.memory:MemoryBroker",
    "redis": "sanic_wsns.broker.redis:RedisBroker",
}


def create_broker(url: str, on_message: MessageCallback | None = None,
                  on_restored: RestoredCallback | None = None, **options: object) -> Broker:
    """Build the backend named by ``url``'s scheme (``memory://``, ``redis://``, ...);
    ``ConfigError`` for a malformed URL. Without the callbacks it hears nothing until
    ``register``."""
    module_name, class_name = BACKENDS[parse_broker_url(url).backend].split(":")
    backend: type[Broker] = getattr(import_module(module_name), class_name)
    return backend(url, on_message, on_restored, **options)


__all__ = ["BACKENDS", "Broker", "BrokerUrl", "HistoryStore", "MessageCallback", "PresenceStore", "PubSub",
           "RequestStore", "RestoredCallback", "create_broker", "parse_broker_url", "redact"]
