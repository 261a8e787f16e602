"""One of the scale benchmark's load-generator processes (``bench.scale`` starts several).

A process may hold at most 20,000 open files, so a size such as 100,000 connections is
split over several of these, each connecting from a loopback address of its own
(127.0.0.2, 127.0.0.3, ...) so that no source address runs out of ephemeral ports.

``python -m bench.scale_loadgen`` reads its spec as the first line on stdin, then speaks
``bench.loadgen``'s stage protocol (``ready`` / ``go`` / ``end`` / ``go``, then ``result``):

* ``open``: open every client of ``clients`` (``[url index, room]`` each) and hold it;
* ``broadcast``: each client listed in ``senders`` sends ``rounds`` broadcasts to its room,
  one at a time (the next after its own echo); the stage ends when every client here has
  received every round of its room (frames counted from their headers and a substring in
  ``data_received``, bypassing websockets' reader and never JSON-decoded:
  ``bench.frame_counter``);
* ``idle`` (when ``idle_seconds``): hold the connections, answering the server's pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import socket
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from bench.frame_counter import FrameCountingConnection
from bench.loadgen import Client, Dialect, Harness, close_all, emit, message
from bench.targets.common import raise_fd_limit

#: ``socket.IP_BIND_ADDRESS_NO_PORT`` (Linux 4.2+; the constant is missing from Python 3.11).
IP_BIND_ADDRESS_NO_PORT = 24
#: Tries per connection before the load generator gives up.
OPEN_ATTEMPTS = 3


#: What marks a broadcast of the broadcast stage in a frame (the server's JSON is compact).
BROADCAST_MARK = '"p":"b"'
BROADCAST = {"p": "b"}


class CountingDialect(Dialect):
    """sanic-wsns's envelope, its broadcasts counted by a substring search instead of
    decoded, for the frames websockets still reads (before ``count_frames``, or after a
    hand-back): the 100k broadcast measures the servers, not ``json.loads``."""

    def decode(self, message: str | bytes) -> dict[str, Any] | None:
        mark = BROADCAST_MARK if isinstance(message, str) else BROADCAST_MARK.encode()
        return BROADCAST if mark in message else None  # type: ignore[operator]


class Deliveries:
    """What the clients of this process received in the broadcast stage."""

    def __init__(self, expected: int):
        self.expected = expected
        self.received = 0
        self.last_ns = 0  # arrival (``data_received``) of the last delivery, monotonic clock
        self.done = asyncio.Event()
        if expected == 0:
            self.done.set()

    def got(self, client: Client) -> None:
        self.received += 1
        self.last_ns = max(self.last_ns, client.ws.received_ns)
        if self.received >= self.expected:
            self.done.set()


async def connected_socket(source: str, url: str) -> socket.socket:
    """A TCP socket from ``source`` to ``url``'s host and port.

    ``IP_BIND_ADDRESS_NO_PORT`` binds the address only and lets ``connect`` pick the port
    for the whole 4-tuple: a plain ``bind((source, 0))`` picks a port unique to the address
    by scanning every port bound to it, which at 19,000 connections made opening several
    times slower (and the 100,000 of the moonshot time out)."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.setblocking(False)
    try:
        sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    harness = Harness(CountingDialect())
    urls: list[str] = spec["urls"]
    plan = [(urls[url], room, url) for url, room in spec["clients"]]
    rounds: int = spec["rounds"]
    clients: list[Client] = []
    deliveries = Deliveries(len(plan) * rounds)
    echoes: dict[int, asyncio.Queue[None]] = {}

    def on_data(client: Client, data: dict[str, Any]) -> None:
        if data.get("p") != "b":
            return
        deliveries.got(client)
        queue = echoes.get(client.index)
        if queue is not None:
            queue.put_nowait(None)

    harness.on_data = on_data

    retries = 0
    gate = asyncio.Semaphore(spec["concurrency"])

    async def open_one(index: int, url: str, room: str, instance: int) -> Client:
        """Open one client from this process's source address; a handshake that times out
        (the whole box is busy opening) is retried, and counted."""
        nonlocal retries
        async with gate:
            for attempt in range(OPEN_ATTEMPTS):
                sock = await connected_socket(spec["source"], url)
                try:
                    client = await harness.open(url, room, index, instance, sock=sock,
                                                create_connection=FrameCountingConnection)
                except TimeoutError:
                    sock.close()
                    if attempt == OPEN_ATTEMPTS - 1:
                        raise
                    retries += 1
                    continue
                assert isinstance(client.ws, FrameCountingConnection)
                client.ws.count_frames(BROADCAST_MARK.encode(), functools.partial(on_data, client, BROADCAST))
                return client
            raise AssertionError("unreachable")

    async def open_all() -> dict[str, Any]:
        start = time.perf_counter()
        clients.extend(await asyncio.gather(*(open_one(i, *p) for i, p in enumerate(plan))))
        return {"connections": len(clients), "seconds": time.perf_counter() - start, "retries": retries}

    async def send_rounds(sender: Client) -> None:
        echo = echoes[sender.index]
        for seq in range(rounds):
            await sender.ws.send(harness.dialect.encode(message("b", seq)))
            await echo.get()

    async def broadcast() -> dict[str, Any]:
        senders = [clients[i] for i in spec["senders"]]
        echoes.update((sender.index, asyncio.Queue()) for sender in senders)
        first_send_ns = time.monotonic_ns()
        await asyncio.gather(*(send_rounds(sender) for sender in senders))
        with contextlib.suppress(TimeoutError):  # reported as deliveries short of expected
            await asyncio.wait_for(deliveries.done.wait(), spec["timeout"])
        return {"deliveries": deliveries.received, "expected": deliveries.expected,
                "first_send_ns": first_send_ns if senders else None, "last_delivery_ns": deliveries.last_ns}

    async def idle() -> dict[str, Any]:
        await asyncio.sleep(spec["idle_seconds"])
        return {"open": sum(1 for c in clients if c.ws.close_code is None)}

    result = {"open": await harness.stage("open", open_all),
              "broadcast": await harness.stage("broadcast", broadcast)}
    if spec["idle_seconds"]:
        result["idle"] = await harness.stage("idle", idle)
    await close_all(clients)
    return result


def main() -> None:
    raise_fd_limit()
    spec = json.loads(sys.stdin.readline())
    import uvloop

    emit({"event": "result", **uvloop.run(run(spec))})


if __name__ == "__main__":
    main()
