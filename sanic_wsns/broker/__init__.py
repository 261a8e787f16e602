"""Brokers carry encoded frames between instances; ``create_broker`` picks one by URL scheme."""

from __future__ import annotations

from importlib import import_module
from urllib.parse import urlsplit

from .base import Broker, MessageCallback, RestoredCallback, redact

#: URL scheme -> "module:class", imported only when used (redis is optional at import time).
BACKENDS = {
    "memory": "sanic_wsns.broker.memory:MemoryBroker",
    "redis": "sanic_wsns.broker.redis:RedisBroker",
    "rediss": "sanic_wsns.broker.redis:RedisBroker",
    "redis+cluster": "sanic_wsns.broker.redis:RedisBroker",
    "rediss+cluster": "sanic_wsns.broker.redis:RedisBroker",
}


def create_broker(
    url: str, on_message: MessageCallback, on_restored: RestoredCallback, **options: object
) -> Broker:
    """Build the backend named by ``url``'s scheme (``memory://``, ``redis://``, ...)."""
    scheme = urlsplit(url).scheme
    target = BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in BACKENDS)
        raise ValueError(f"unknown broker URL scheme {scheme!r} in {url!r}; use one of {known}")
    module_name, class_name = target.split(":")
    backend = getattr(import_module(module_name), class_name)
    return backend(url, on_message, on_restored, **options)


__all__ = ["BACKENDS", "Broker", "MessageCallback", "RestoredCallback", "create_broker", "redact"]
