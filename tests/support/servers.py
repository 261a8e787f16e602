"""Real servers for tests: Sanic apps on pre-bound loopback sockets, inside the test's loop.

The running itself is the package's test kit (``sanic_wsns.testing.serve``); this module
keeps the names the repository's tests, e2e and bench use, and the app factory they share.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sanic import Sanic

from sanic_wsns import testing
from tests.support.polling import wait_for

__all__ = ["RunningServer", "new_app", "serve", "wait_for"]  # wait_for: the name tests import

_app_names = itertools.count()

#: A running app: ``app``, ``host``, ``port``, ``http``, ``ws(path)``, ``connect(path)``.
RunningServer = testing.Server


def new_app(prefix: str = "wsns_test") -> Sanic:
    """A fresh Sanic app with a unique name (several may live in one test process)."""
    Sanic.test_mode = True
    app = Sanic(f"{prefix}_{next(_app_names)}")
    # sanic-ext's auto-extension (OpenAPI, templating...) costs ~0.5 s per start and
    # nothing under test needs it.
    app.config.AUTO_EXTEND = False
    app.config.MOTD = False
    return app


@asynccontextmanager
async def serve(app: Sanic, port: int | None = None) -> AsyncIterator[RunningServer]:
    """Run ``app`` on 127.0.0.1 (a free port unless given) until the block exits."""
    async with testing.serve(app, port=port) as server:
        yield server
