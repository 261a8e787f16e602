"""The bench's sanic-wsns target in-process (the package's test kit runs it): the load
generator's own client joins it, and an ``echo-all`` reaches every client of the room, the
generator's and a ``sanic_wsns.remote`` one alike — what W1 counts as deliveries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sanic import log

from bench.loadgen import DIALECTS, Client, Harness, close_all, message
from bench.targets.wsns_app import build
from sanic_wsns import testing
from tests.support.servers import wait_for


@pytest.fixture(autouse=True)
def sanic_log_levels() -> Iterator[None]:
    """The target quiets Sanic's loggers process-wide when it starts: put them back."""
    loggers = (log.logger, log.error_logger, log.server_logger, log.websockets_logger, log.access_logger)
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


async def test_an_echo_all_reaches_every_client_of_the_room_and_only_once():
    async with testing.serve(build("", False)) as server:
        harness = Harness(DIALECTS["wsns"])
        got: list[tuple[int, Any]] = []

        def on_data(client: Client, data: dict[str, Any]) -> None:
            got.append((client.index, data["seq"]))

        harness.on_data = on_data
        clients = [await harness.open(server.url(""), "room", index, 0) for index in range(3)]
        assert [json.loads(client.joined)["type"] for client in clients] == ["welcome"] * 3
        peer = await server.connect("/bench/room")
        frames = peer.frames()
        await clients[0].ws.send(harness.dialect.encode(message("w", 7)))
        async with asyncio.timeout(5):
            echoed = await anext(frames)
        assert (echoed["type"], echoed["data"]["seq"]) == ("echo-all", 7)
        await wait_for(lambda: len(got) == 3)
        assert sorted(got) == [(0, 7), (1, 7), (2, 7)]
        await clients[0].ws.send(harness.dialect.encode(message("w", 8)))
        async with asyncio.timeout(5):
            assert (await anext(frames))["data"]["seq"] == 8  # no second copy of 7 before it
        await close_all(clients)
