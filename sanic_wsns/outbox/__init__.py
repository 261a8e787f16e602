"""The transactional outbox (core idea 11): a change and the frame announcing it commit
together, and every frame committed reaches the pages once (docs/outbox.md).

The driver modules: ``sanic_wsns.outbox.sqlite`` (``sqlite3``) and
``sanic_wsns.outbox.postgres`` (psycopg 3, the ``postgres`` extra). The Sanic glue:
``sanic_wsns.outbox.listeners.run_relay``.
"""

from .frame import SCHEDULE_DELAY, Frame, Timing
from .relay import Publish, Relay
from .store import Backlog, Claimed, OutboxStore

__all__ = ["SCHEDULE_DELAY", "Backlog", "Claimed", "Frame", "OutboxStore", "Publish", "Relay", "Timing"]
