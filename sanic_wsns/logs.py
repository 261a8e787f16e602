"""How sanic-wsns's log lines meet Sanic's logging: shown like Sanic's own, and never with
the values in an upgrade URL's query string.

Browsers cannot set headers on a WebSocket upgrade, so a token travels in the query
(``?token=…``, the browser client's ``query`` option), and Sanic's access log writes the
whole URL of every WebSocket it opens and closes. ``RedactUpgradeQueries`` keeps the names
and drops the values of ``ws://``/``wss://`` lines, on Sanic's access logger.
"""

from __future__ import annotations

import logging
import re

_QUERY_VALUE = re.compile(r"([?&][^=&#\s]+)=[^&#\s]*")
_UPGRADE_URL = re.compile(r"wss?://\S+")


def redact_query(url: str) -> str:
    """``ws://h/p?token=abc&since=4`` → ``ws://h/p?token=…&since=…``."""
    return _QUERY_VALUE.sub(r"\1=…", url)


class RedactUpgradeQueries(logging.Filter):
    """Rewrites the ``request`` field Sanic's access log prints for WebSocket lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if isinstance(request, str) and "?" in request and "ws" in request:
            record.request = _UPGRADE_URL.sub(lambda found: redact_query(found.group(0)), request)
        return True


_FILTER = RedactUpgradeQueries()


def redact_upgrade_queries() -> None:
    """Install the filter on Sanic's access logger (once per process)."""
    access = logging.getLogger("sanic.access")
    if _FILTER not in access.filters:
        access.addFilter(_FILTER)


def follow_sanic_logging() -> None:
    """Show the ``sanic_wsns`` lines through Sanic's handlers, unless the app set up logging.

    Sanic configures its own loggers (``sanic.root`` and the rest) and nothing else: left
    alone, the ``sanic_wsns`` logger has no handler, its warnings reach stderr as bare lines
    and its info lines (start-up, refused upgrades, broker recovery) are dropped. An app that
    configured logging itself (a handler on ``sanic_wsns`` or on the root logger) keeps it.
    """
    ours = logging.getLogger("sanic_wsns")
    if ours.handlers or logging.getLogger().handlers:
        return
    sanic = logging.getLogger("sanic.root")
    for handler in sanic.handlers:
        ours.addHandler(handler)
    if ours.level == logging.NOTSET:
        ours.setLevel(sanic.getEffectiveLevel())
