"""Shared fixtures, from tests/support: support/servers.py starts real Sanic apps,
support/redis_servers.py real redis-servers, support/demo.py a running bubblemap with
signed-in users."""

import pytest
from hypothesis import settings

from tests.support.core_app import build_app
from tests.support.demo import ann, bob, demo, redis_pair  # noqa: F401  (fixtures, used by name)
from tests.support.redis_servers import redis_cluster, redis_server  # noqa: F401  (fixtures, used by name)
from tests.support.servers import serve

# Property tests assert what holds for every input, never how fast: hypothesis's default
# 200 ms deadline per example is a timed assertion, and it failed once on a loaded 2-core box.
settings.register_profile("wsns", deadline=None)
settings.load_profile("wsns")


@pytest.fixture
async def core():
    """The core test app (tests/support/core_app.py) served on a real socket, default settings."""
    app, wsns, events = build_app()
    async with serve(app) as server:
        yield server, wsns, events
