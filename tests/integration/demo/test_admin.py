"""The admin side of bubblemap: every instance reports its stats into the admin-only
namespace, so one admin connection sees the whole deployment; others are refused."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from demo_app.admin import ADMIN_PATTERN, REPORT_INTERVAL
from tests.support.demo import close_code_at, running_demo, sign_in, wait_closed
from tests.support.wsclient import join, open_ws, recv_json

#: A report of every instance arrives within two intervals (plus slack for a busy machine).
REPORTED_S = REPORT_INTERVAL * 2 + 5


@pytest.fixture
async def two_instances(tmp_path, redis_server):
    db = tmp_path / "shared.sqlite"
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(
            running_demo(db, redis_server.url, admins=["root"], secret="s" * 32)) for _ in range(2)]


async def reports_until(ws, done) -> dict[str, dict[str, Any]]:
    """Collect ``instance-stats`` reports by instance until ``done(latest)`` holds."""
    latest: dict[str, dict[str, Any]] = {}

    async def collect() -> None:
        while not done(latest):
            frame = await recv_json(ws, timeout=REPORTED_S)
            if frame["type"] == "instance-stats":
                latest[frame["data"]["instance"]] = frame["data"]

    await asyncio.wait_for(collect(), REPORTED_S)
    return latest


async def test_one_admin_connection_hears_every_instance_report(two_instances):
    first = two_instances[0]
    root = await sign_in(first, "root")
    ws, _ = await join(first.ws(ADMIN_PATTERN), additional_headers={"Cookie": root.cookie})
    async with ws:
        reports = await reports_until(ws, lambda latest: len(latest) == 2)
    assert len(set(reports)) == 2, "one report per instance, from both"
    for report in reports.values():
        assert report["broker"] == {"backend": "redis", "mode": "pubsub", "connected": True,
                                    "last_error": None}
        assert report["stale_after"] == REPORT_INTERVAL * 3
        assert {"connections", "namespaces", "messages_in_per_s", "messages_out_per_s",
                "errors"} <= report.keys()
    assert sum(r["connections"] for r in reports.values()) >= 1  # the admin's own connection


@pytest.mark.parametrize(("who", "code"), [(None, 4401), ("ann", 4403)])
async def test_the_admin_namespace_refuses_others(two_instances, who, code):
    first, _ = two_instances
    headers = {"Cookie": (await sign_in(first, who)).cookie} if who else {}
    async with await open_ws(first.ws(ADMIN_PATTERN), additional_headers=headers) as ws:
        assert await wait_closed(ws) == code


async def test_signing_out_closes_the_admins_socket_which_cannot_come_back(demo):
    root = await sign_in(demo, "root")
    ws, _ = await join(demo.ws(ADMIN_PATTERN), additional_headers={"Cookie": root.cookie})
    async with ws:
        assert (await root.call("DELETE", "/api/1/session")).status == 204
        assert await asyncio.wait_for(wait_closed(ws), REPORTED_S) == 4001
    assert await close_code_at(demo, ADMIN_PATTERN, root.cookie) == 4401
