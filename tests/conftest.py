"""Shared fixtures: servers.py starts real Sanic apps, redis_fixtures.py real redis-servers,
demo_support.py a running bubblemap with signed-in users."""

import pytest
from core_app import build_app
from demo_support import ann, bob, demo  # noqa: F401  (fixtures, used by name)
from redis_fixtures import redis_cluster, redis_server  # noqa: F401  (fixtures, used by name)
from servers import serve


@pytest.fixture
async def core():
    """The core test app (tests/core_app.py) served on a real socket, default settings."""
    app, wsns, events = build_app()
    async with serve(app) as server:
        yield server, wsns, events
