"""SQLite persistence for bubblemap, shared safely by several local instances.

``Store`` (``runner.py``) owns the connection and its thread and runs statements: plain
functions over a connection, ``users`` (accounts, sessions, the cookie secret) apart from
``maps`` (maps, members, the map lists' cards) and ``bubbles``, called as
``await store.read(maps.get, map_id)`` or ``await store.write(bubbles.create,
store.policy, map_id, data, by)``. Every bubble write (and a map's deletion) also records,
in the same transaction, the frame that announces it (``outbox.record``,
sanic_wsns.outbox.sqlite) and returns it with the result: the caller hands it to the
outbox ``Relay``, which publishes it (docs/outbox.md).
"""

from .runner import Policy, Store

__all__ = ["Policy", "Store"]
