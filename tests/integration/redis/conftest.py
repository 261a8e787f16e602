"""Fixtures of the broker tests."""

from __future__ import annotations

import itertools

import pytest

_memory_hubs = itertools.count()


@pytest.fixture(params=["memory", "redis"])
def broker(request) -> str:
    """A broker URL, once memory:// (instances in this process share a fresh hub) and once
    a real redis-server: a test that takes it shows both keep the same promises."""
    if request.param == "memory":
        return f"memory://shared-{next(_memory_hubs)}"
    return request.getfixturevalue("redis_server").url
