"""``/metrics`` is not for anyone: loopback clients only, or a bearer token when one is set."""

from __future__ import annotations

import pytest

from tests.support.demo import http, running_demo

TOKEN = "a-scrapers-token-of-some-length"


@pytest.fixture
async def proxied(tmp_path):
    """A demo serving metrics to loopback only, behind (what it believes is) one proxy, so a
    test can say which address a request comes from."""
    async with running_demo(tmp_path / "db.sqlite", metrics=True) as server:
        server.app.config.PROXIES_COUNT = 1
        yield server


@pytest.mark.parametrize(("address", "status"), [("127.0.0.1", 200), ("::1", 200),
                                                 ("203.0.113.7", 403), ("10.1.2.3", 403)])
async def test_without_a_token_metrics_are_served_to_loopback_clients_only(proxied, address, status):
    reply = await http(proxied, "GET", "/metrics", headers={"X-Forwarded-For": address})
    assert reply.status == status
    if status == 200:
        assert b"wsns_connections" in reply.body


@pytest.mark.parametrize(("authorization", "status"), [
    (None, 401), ("Bearer wrong", 401), (f"Basic {TOKEN}", 401), (f"Bearer {TOKEN}", 200)])
async def test_with_a_token_metrics_need_it_as_a_bearer_token(tmp_path, authorization, status):
    async with running_demo(tmp_path / "db.sqlite", metrics=True, metrics_token=TOKEN) as server:
        headers = {"Authorization": authorization} if authorization else {}
        reply = await http(server, "GET", "/metrics", headers=headers)
        assert reply.status == status
        if status == 401:
            assert reply.headers["WWW-Authenticate"] == "Bearer"
