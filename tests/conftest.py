"""Shared fixtures: servers.py starts real Sanic apps, redis_fixtures.py real redis-servers."""

from redis_fixtures import redis_server  # noqa: F401  (a fixture, used by name)
