# ruff: noqa: RUF001, RUF002  (the report is typeset: en dashes, multiplication signs)
"""SSE against WebSocket (issue 26), in the same bench app (``bench.targets.wsns_app``,
which serves both: ``/bench/<room>`` and ``/wsns/sse/bench/<room>``).

``python -m bench.sse_vs_ws [--quick] [--runs 3] [--json PATH]`` (also a section of
``python -m bench.run``). Each run starts a fresh server per transport, WebSocket then SSE,
so outside load smears over both; the report shows medians of the runs with (min–max) and
the SSE/WebSocket ratio taken run by run.

* **W1's shape** (``bench.workloads.w1``: one room, ``fanout_clients`` clients, client 0
  broadcasts ``broadcasts`` times with at most ``window`` unanswered, then ``paced``
  broadcasts at ``paced_rate``/s). The sender is a WebSocket client in both runs (an SSE
  client's messages would be POSTs: another cost, not the delivery's); the other clients
  are of the transport measured. **Server CPU per delivery** over the windowed stage
  (/proc, user + system); **p50/p99 latency** over the paced stage, from the send to the
  arrival of the bytes at the receiving socket (``data_received``), the k-th broadcast of
  the stage matched with each client's k-th event (a client's events arrive in order).
* **RSS per idle connection**: ``idle_connections`` over ``idle_namespaces`` rooms, after
  a warm-up round; the server's RSS after minus before, per connection.

The SSE clients read the chunked response with asyncio streams and count events without
decoding JSON (the server writes each event as one chunk); the WebSocket clients are the
load generator's (``bench.loadgen.StampedConnection``), counting messages the same way
(read as bytes, never decoded). Both run in this process, on uvloop as the load generator.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from bench.figures import spread
from bench.loadgen import PAD, StampedConnection, percentile
from bench.procstat import sample
from bench.servers import ROOT, START_TIMEOUT, start_target
from bench.standalone import interleaved, no_plot, run_alone
from bench.targets.common import raise_fd_limit
from bench.workloads import Sizes
from tests.support.processes import ServerProcess

VARIANTS = ("websocket", "sse")
SSE_PREFIX = "/wsns/sse"
TIMEOUT = 120.0
#: Handshakes in flight at once (the load generator's).
CONCURRENCY = 50


# -- the receivers: one class per transport, the same counting -------------------------------

class Receiver:
    """One client of the room: counts the events it got, and when bytes last arrived."""

    def __init__(self, on_event: Callable[[Receiver], None]) -> None:
        self.received = 0
        self.received_ns = 0
        self._on_event = on_event
        self.task: asyncio.Task[None] | None = None

    def event(self) -> None:
        self.received += 1
        self._on_event(self)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class StampedStream(asyncio.StreamReaderProtocol):
    """An asyncio stream that notes when bytes last arrived (as ``StampedConnection``)."""

    received_ns = 0

    def data_received(self, data: bytes) -> None:
        self.received_ns = time.monotonic_ns()
        super().data_received(data)


class SseReceiver(Receiver):
    """``GET`` the stream, then count its chunks that are events (each event is one chunk;
    ``: ping`` comments are chunks too, and are not counted)."""

    async def open(self, host: str, port: int, path: str) -> None:
        loop = asyncio.get_running_loop()
        self.reader = asyncio.StreamReader(limit=2**20)
        transport, self.protocol = await loop.create_connection(
            lambda: StampedStream(self.reader), host, port)
        self.writer = asyncio.StreamWriter(transport, self.protocol, self.reader, loop)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream refused: {head[:200]!r}")
        while not (await self._chunk()).startswith(b"event: welcome"):
            pass

    async def _chunk(self) -> bytes:
        size = int(await self.reader.readuntil(b"\r\n"), 16)
        if size == 0:
            raise EOFError("the stream ended")
        return await self.reader.readexactly(size + 2)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            data = await self._chunk()
            if data.startswith(b"event:"):
                self.received_ns = self.protocol.received_ns
                self.event()

    async def close(self) -> None:
        await super().close()
        self.writer.close()


class WsReceiver(Receiver):
    async def open(self, url: str) -> None:
        self.ws = await connect(url, ping_interval=None, compression=None, proxy=None,
                                open_timeout=TIMEOUT, close_timeout=2, max_queue=None,
                                create_connection=StampedConnection)
        await self.ws.recv()  # welcome

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        ws = self.ws
        assert isinstance(ws, StampedConnection)
        while True:
            await ws.recv(decode=False)  # bytes: no UTF-8 decoding, as the SSE reader
            self.received_ns = ws.received_ns
            self.event()

    async def close(self) -> None:
        await super().close()
        await self.ws.close()


async def open_receivers(server: ServerProcess, variant: str, rooms: list[str],
                         on_event: Callable[[Receiver], None]) -> list[Receiver]:
    """One receiver per entry of ``rooms``, ``CONCURRENCY`` handshakes at once."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(room: str) -> Receiver:
        async with gate:
            if variant == "sse":
                sse = SseReceiver(on_event)
                await asyncio.wait_for(sse.open("127.0.0.1", server.port, f"{SSE_PREFIX}/bench/{room}"),
                                       TIMEOUT)
                return sse
            ws = WsReceiver(on_event)
            await ws.open(server.ws(f"/bench/{room}"))
            return ws

    return list(await asyncio.gather(*(one(room) for room in rooms)))


async def close_receivers(receivers: list[Receiver]) -> None:
    await asyncio.gather(*(r.close() for r in receivers), return_exceptions=True)


# -- the workloads ---------------------------------------------------------------------------

class Deliveries:
    """Events counted over every receiver; ``until(n)`` waits until there were ``n``; each
    receiver's k-th event of the paced stage is stamped against the k-th send."""

    def __init__(self) -> None:
        self.delivered = 0
        self.sent_ns: list[int] = []
        self.latencies: list[int] = []
        self._base: dict[Receiver, int] = {}
        self._waiting: tuple[int, asyncio.Future[None]] | None = None

    def pace(self, receivers: list[Receiver]) -> None:
        """From now on, stamp latencies (events counted so far are not the paced ones)."""
        self._base = {r: r.received for r in receivers}

    def got(self, receiver: Receiver) -> None:
        self.delivered += 1
        base = self._base.get(receiver)
        if base is not None:
            self.latencies.append(receiver.received_ns - self.sent_ns[receiver.received - base - 1])
        waiting = self._waiting
        if waiting is not None and self.delivered >= waiting[0] and not waiting[1].done():
            waiting[1].set_result(None)

    async def until(self, count: int) -> None:
        if self.delivered >= count:
            return
        self._waiting = (count, asyncio.get_running_loop().create_future())
        await asyncio.wait_for(self._waiting[1], TIMEOUT)


async def fanout(server: ServerProcess, variant: str, sizes: Sizes) -> dict[str, Any]:
    """W1's shape: server CPU per delivery (windowed), latency (paced)."""
    deliveries = Deliveries()
    sender = WsReceiver(deliveries.got)
    await sender.open(server.ws("/bench/fanout"))
    receivers = [sender, *await open_receivers(server, variant, ["fanout"] * (sizes.fanout_clients - 1),
                                               deliveries.got)]
    for receiver in receivers:
        receiver.start()
    n = len(receivers)
    body = json.dumps({"type": "echo-all", "data": {"pad": PAD}}, separators=(",", ":"))
    before = sample(server.pid)
    for i in range(sizes.broadcasts):
        await deliveries.until((i + 1 - sizes.window) * n)
        await sender.ws.send(body)
    await deliveries.until(sizes.broadcasts * n)
    after = sample(server.pid)
    windowed = sizes.broadcasts * n
    deliveries.pace(receivers)
    # The clients' own garbage collection must not stall the stage latency is taken in.
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for seq in range(sizes.paced):
            delay = start + seq / sizes.paced_rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            deliveries.sent_ns.append(time.monotonic_ns())
            await sender.ws.send(body)
        await deliveries.until(windowed + sizes.paced * n)
    finally:
        gc.enable()
    await close_receivers(receivers)
    return {"deliveries": windowed, "cpu_us_per_delivery": (after.cpu - before.cpu) * 1e6 / windowed,
            "user_us_per_delivery": (after.user - before.user) * 1e6 / windowed,
            "system_us_per_delivery": (after.system - before.system) * 1e6 / windowed,
            "p50_ms": percentile(deliveries.latencies, 50), "p99_ms": percentile(deliveries.latencies, 99)}


async def idle(server: ServerProcess, variant: str, sizes: Sizes) -> dict[str, Any]:
    """Idle connections over many rooms: server RSS per connection (after a warm-up round,
    so lazily built state is not billed per connection)."""
    def nothing(receiver: Receiver) -> None:
        pass

    await close_receivers(await open_receivers(server, variant, [f"warm-{i}" for i in range(20)], nothing))
    await asyncio.sleep(sizes.settle)
    before = sample(server.pid).rss
    held = await open_receivers(server, variant, [f"idle-{i % sizes.idle_namespaces}"
                                                  for i in range(sizes.idle_connections)], nothing)
    await asyncio.sleep(sizes.settle)  # let the server's freed buffers settle
    after = sample(server.pid).rss
    await close_receivers(held)
    return {"connections": len(held), "rss_kib_per_connection": (after - before) / 1024 / len(held)}


def one_run(variant: str, sizes: Sizes, log_dir: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        server = start_target(stack, "wsns", log_dir, label=f"-{variant}").wait_ready(START_TIMEOUT)
        figures = run_loop(idle(server, variant, sizes))
        figures.update(run_loop(fanout(server, variant, sizes)))
        return figures


def run_loop(work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """On uvloop when it is there, as the load generator's clients run (``bench.loadgen``)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def run_sse(sizes: Sizes, quick: bool, runs: int | None = None) -> dict[str, Any]:
    """Every run: WebSocket then SSE, each on a fresh server. The section's figures (JSON)."""
    raise_fd_limit()
    log_dir = ROOT / "bench" / "results" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    count = runs or (1 if quick else 3)
    results = interleaved("sse", VARIANTS, count, lambda variant: one_run(variant, sizes, log_dir))
    return {"runs": count, "fanout_clients": sizes.fanout_clients, "broadcasts": sizes.broadcasts,
            "window": sizes.window, "paced": sizes.paced, "paced_rate": sizes.paced_rate,
            "idle_connections": sizes.idle_connections, "idle_namespaces": sizes.idle_namespaces,
            "results": results}


# -- the report ------------------------------------------------------------------------------

def _row(figures: dict[str, Any], label: str, key: str, fmt: str) -> str:
    ws, sse = ([run[key] for run in figures["results"][v]] for v in VARIANTS)
    ratio = spread([b / a for a, b in zip(ws, sse, strict=True) if a], "{:.2f}×")
    return f"| {label} | {spread(ws, fmt)} | {spread(sse, fmt)} | {ratio} |"


def idle_memory_kept(figures: dict[str, Any]) -> bool:
    """The issue's one requirement: an idle SSE connection costs no more than a WebSocket's
    (medians of the runs)."""
    ws, sse = (statistics.median(run["rss_kib_per_connection"] for run in figures["results"][v])
               for v in VARIANTS)
    return bool(sse <= ws)


def render(figures: dict[str, Any]) -> list[str]:
    """The section's markdown: figures, the requirement, and how they were taken."""
    rows = [
        (f"server CPU per delivery, W1 fan-out {figures['fanout_clients']} (µs)", "cpu_us_per_delivery",
         "{:.2f}"),
        ("… of which user (µs)", "user_us_per_delivery", "{:.2f}"),
        ("… of which system/kernel (µs)", "system_us_per_delivery", "{:.2f}"),
        (f"p50 latency, {figures['paced_rate']:.0f} broadcasts/s (ms)", "p50_ms", "{:.2f}"),
        (f"p99 latency, {figures['paced_rate']:.0f} broadcasts/s (ms)", "p99_ms", "{:.2f}"),
        ("server RSS per idle connection (KiB)", "rss_kib_per_connection", "{:.1f}"),
    ]
    return [
        "## SSE vs WebSocket (issue 26)", "",
        f"`python -m bench.sse_vs_ws`: {figures['runs']} run(s), each WebSocket then SSE on fresh "
        "servers (interleaved: the machine is shared and loaded); median (min–max); the SSE/WebSocket "
        f"ratio is taken run by run. W1's shape: {figures['fanout_clients']} clients of one room, "
        f"{figures['broadcasts']:,} broadcasts (at most {figures['window']} in flight), then "
        f"{figures['paced']} at {figures['paced_rate']:.0f}/s for latency; the sender is a WebSocket "
        "client in both, the other clients are of the transport measured. "
        f"{figures['idle_connections']:,} idle connections over {figures['idle_namespaces']} rooms.", "",
        "| figure | WebSocket | SSE | SSE / WebSocket |", "| --- | ---: | ---: | ---: |",
        *(_row(figures, *row) for row in rows), "",
        "Requirement: RSS per idle SSE connection ≤ the WebSocket's: "
        + ("kept (medians)." if idle_memory_kept(figures) else "**not kept: see the raw figures.**"),
    ]


plot = no_plot


def main(argv: list[str] | None = None) -> None:
    run_alone(__doc__, run_sse, render, argv)


if __name__ == "__main__":
    main()
