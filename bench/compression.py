# ruff: noqa: RUF001, RUF002  (the report is typeset: en dashes, multiplication signs)
"""permessage-deflate (``WSNS_COMPRESSION``), off against on, in the same bench app
(``bench.targets.wsns_app``; on: ``SANIC_WSNS_COMPRESSION=true`` in its environment).

``python -m bench.compression [--quick] [--runs 3] [--json PATH]`` (also a section of
``python -m bench.run``). Each run starts a fresh server per variant, off then on, so
outside load smears over both; the report shows medians of the runs with (min–max) and
the on/off ratio taken run by run. Every client offers permessage-deflate (``websockets``
does by default, as browsers do): with compression off the server declines it.

* **Bytes on the wire per delivery**: a raw socket reads the frame a broadcast puts on the
  wire (header included) for a 1 KB JSON event and for a bubblemap snapshot (a map of
  ``SNAPSHOT_BUBBLES`` bubbles built from ``demo_app.models``, sent through the bench
  app's broadcast: its frame's type is ``echo-all``, not ``snapshot``).
* **CPU per delivery, 1 KB frames**: W1's shape (one room, one sender, a window of
  broadcasts in flight), the server's CPU (/proc, user + system) over the deliveries. The
  sender's message is compressed by its client too, so the server also inflates one
  message per broadcast.
* **RSS per idle connection**: connections over many rooms, each after one compressed
  request and its answer (so a connection that has decompressed a message is measured,
  not only one that never did); the server's RSS after minus before, per connection.
* **Compression per frame**: the one ``FrameDeflater.deflate`` a broadcast costs, timed in
  this process (the best of several repeats): the whole extra cost of a frame sent to one
  client (a reply, a snapshot).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
import timeit
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Opcode

from bench.figures import spread
from bench.procstat import sample
from bench.servers import ROOT, START_TIMEOUT
from bench.standalone import interleaved, no_plot, run_alone
from bench.workloads import Sizes
from demo_app.models import Bubble, Map, MapView
from sanic_wsns.deflate import FrameDeflater
from sanic_wsns.protocol import encode, ws_text_frame
from tests.support.processes import ServerProcess, accepts
from tests.support.rawframes import RawClient, client_frame

VARIANTS = ("off", "on")
SNAPSHOT_BUBBLES = 40
TIMEOUT = 120.0
WORDS = ("map", "idea", "ship", "review", "friday", "the", "launch", "budget", "team", "design", "a",
         "draft", "notes", "call", "customer", "and", "plan", "for", "next", "week", "to", "check")


# -- what is sent --------------------------------------------------------------------------

def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _bubble(rng: random.Random, id: int, words: int) -> Bubble:
    return Bubble(id=id, x=rng.uniform(0, 2000), y=rng.uniform(0, 1200), text=_text(rng, words),
                  color=rng.choice(("#ffcc00", "#66ccff", "#ff6699", "#99cc33")), version=rng.randint(1, 9),
                  edited_by=rng.choice(("ann", "bob", "chloé")), edited_at=1.7649e9 + rng.uniform(0, 9e5))


def event_1k() -> Any:
    """A JSON event of 1 KB (its frame's JSON): a bubble with a long text, as
    ``bubble-updated`` carries."""
    words = next(n for n in itertools.count(1)
                 if len(encode("echo-all", _bubble(random.Random(1), 7, n))) >= 1024)
    return msgspec.to_builtins(_bubble(random.Random(1), 7, words))


def snapshot() -> Any:
    """A bubblemap snapshot: a map and ``SNAPSHOT_BUBBLES`` bubbles of a few words each."""
    rng = random.Random(2)
    view = MapView(map=Map(id=12, title="Team offsite", owner="ann", private=True, members=["bob", "chloé"]),
                   bubbles=[_bubble(rng, i, rng.randint(2, 12)) for i in range(1, SNAPSHOT_BUBBLES + 1)],
                   last_bubble_id=SNAPSHOT_BUBBLES)
    return msgspec.to_builtins(view)


# -- one variant on a fresh server ------------------------------------------------------------

def start_server(stack: ExitStack, variant: str, log_dir: Path) -> ServerProcess:
    """The bench app, compression switched by its environment (Sanic reads ``SANIC_*``)."""
    switch = "true" if variant == "on" else "false"
    server = ServerProcess([sys.executable, "-m", "bench.targets.wsns_app", "--port", "{port}"],
                           ready=accepts, env={"SANIC_WSNS_COMPRESSION": switch},
                           name=f"wsns-compression-{variant}", log_dir=log_dir)
    stack.callback(server.stop)
    return server.spawn().wait_ready(START_TIMEOUT)


def wire_bytes(url: str, data: Any) -> tuple[int, bool]:
    """Bytes of the frame one broadcast of ``data`` puts on the wire, and whether it was
    compressed (RSV1), read by a raw socket that offers permessage-deflate."""
    client = RawClient.connect(url, extensions="permessage-deflate; client_max_window_bits")
    try:
        client.first_frame()  # welcome
        client.send(client_frame(Opcode.TEXT, json.dumps({"type": "echo-all", "data": data}).encode()))
        _welcome, broadcast = client.first_frames(2)
        header = 2 if len(broadcast.data) < 126 else 4 if len(broadcast.data) < 65536 else 10
        return header + len(broadcast.data), broadcast.rsv1
    finally:
        client.close()


async def _join(url: str) -> ClientConnection:
    ws = await connect(url, compression="deflate", ping_interval=None, max_size=None, open_timeout=TIMEOUT)
    await ws.recv()  # welcome
    return ws


async def fanout(server: ServerProcess, sizes: Sizes) -> dict[str, Any]:
    """W1's shape with 1 KB frames: server CPU per delivery."""
    url = server.ws("/bench/fanout")
    clients = [await _join(url) for _ in range(sizes.fanout_clients)]
    counter = _Counter()
    readers = [asyncio.ensure_future(counter.read(ws)) for ws in clients]
    message = json.dumps({"type": "echo-all", "data": event_1k()})
    n, total = len(clients), sizes.broadcasts * len(clients)
    before = sample(server.pid)
    for i in range(sizes.broadcasts):
        await counter.until((i + 1 - sizes.window) * n)
        await clients[0].send(message)
    await counter.until(total)
    after = sample(server.pid)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(ws.close() for ws in clients))
    response = clients[0].response
    agreed = response is not None and "permessage-deflate" in response.headers.get(
        "Sec-WebSocket-Extensions", "")
    return {"deliveries": total, "cpu_us_per_delivery": (after.cpu - before.cpu) * 1e6 / total,
            "agreed": agreed}


class _Counter:
    """Deliveries counted over every client; ``until(n)`` waits until there were ``n``."""

    def __init__(self) -> None:
        self.delivered = 0
        self._waiting: tuple[int, asyncio.Future[None]] | None = None

    async def read(self, ws: ClientConnection) -> None:
        async for _message in ws:
            self.delivered += 1
            waiting = self._waiting
            if waiting is not None and self.delivered >= waiting[0] and not waiting[1].done():
                waiting[1].set_result(None)

    async def until(self, count: int) -> None:
        if self.delivered >= count:
            return
        self._waiting = (count, asyncio.get_running_loop().create_future())
        await asyncio.wait_for(self._waiting[1], TIMEOUT)


async def idle(server: ServerProcess, sizes: Sizes) -> dict[str, Any]:
    """Idle connections, each after one compressed request: server RSS per connection."""
    before = sample(server.pid).rss
    held: list[ClientConnection] = []
    for start in range(0, sizes.idle_connections, 50):
        batch = range(start, min(start + 50, sizes.idle_connections))
        held += await asyncio.gather(*(_ping(server.ws(f"/bench/idle-{i % sizes.idle_namespaces}"))
                                       for i in batch))
    await asyncio.sleep(sizes.settle)  # let the server's freed buffers settle
    after = sample(server.pid).rss
    await asyncio.gather(*(ws.close() for ws in held))
    return {"connections": len(held), "rss_kib_per_connection": (after - before) / 1024 / len(held)}


async def _ping(url: str) -> ClientConnection:
    ws = await _join(url)
    await ws.send(json.dumps({"type": "ping", "data": _text(random.Random(3), 40), "id": 1}))
    await ws.recv()  # pong
    return ws


def one_run(variant: str, sizes: Sizes, log_dir: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        server = start_server(stack, variant, log_dir)
        url = server.ws("/bench/wire")
        event_bytes, event_compressed = wire_bytes(url, event_1k())
        snapshot_bytes, snapshot_compressed = wire_bytes(url, snapshot())
        figures = {"event_bytes": event_bytes, "event_compressed": event_compressed,
                   "snapshot_bytes": snapshot_bytes, "snapshot_compressed": snapshot_compressed}
        figures.update(asyncio.run(idle(server, sizes)))
        figures.update(asyncio.run(fanout(server, sizes)))
        return figures


def compress_us() -> float:
    """One ``FrameDeflater.deflate`` of the 1 KB event's frame, in µs (best of 5)."""
    deflater, frame = FrameDeflater(256), ws_text_frame(encode("echo-all", event_1k()))
    number = 2000
    return min(timeit.repeat(lambda: deflater.deflate(frame), number=number, repeat=5)) * 1e6 / number


def run_compression(sizes: Sizes, quick: bool, runs: int | None = None) -> dict[str, Any]:
    """Every run: off then on, each on a fresh server. The section's figures (JSON)."""
    log_dir = ROOT / "bench" / "results" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    count = runs or (1 if quick else 3)
    results = interleaved("compression", VARIANTS, count, lambda variant: one_run(variant, sizes, log_dir))
    return {"runs": count, "fanout_clients": sizes.fanout_clients, "broadcasts": sizes.broadcasts,
            "idle_connections": sizes.idle_connections, "snapshot_bubbles": SNAPSHOT_BUBBLES,
            "compress_us_per_frame": compress_us(), "results": results}


# -- the report ------------------------------------------------------------------------------

def _row(figures: dict[str, Any], label: str, key: str, fmt: str, compare: str) -> str:
    off, on = ([run[key] for run in figures["results"][v]] for v in VARIANTS)
    if compare == "ratio":
        change = spread([b / a for a, b in zip(off, on, strict=True) if a], "{:.2f}×")
    else:
        change = spread([b - a for a, b in zip(off, on, strict=True)], "{:+.1f} KiB")
    return f"| {label} | {spread(off, fmt)} | {spread(on, fmt)} | {change} |"


def render(figures: dict[str, Any]) -> list[str]:
    """The section's markdown: figures, goals, and how they were taken."""
    on = figures["results"]["on"]
    rows = [
        ("bytes on the wire per delivery, 1 KB JSON event", "event_bytes", "{:,.0f}", "ratio"),
        (f"bytes on the wire per delivery, bubblemap snapshot ({figures['snapshot_bubbles']} bubbles)",
         "snapshot_bytes", "{:,.0f}", "ratio"),
        (f"server CPU per delivery, 1 KB frames, fan-out {figures['fanout_clients']} (µs)",
         "cpu_us_per_delivery", "{:.2f}", "ratio"),
        ("server RSS per idle connection (KiB)", "rss_kib_per_connection", "{:.1f}", "difference"),
    ]
    compressed = all(run["event_compressed"] and run["snapshot_compressed"] and run["agreed"] for run in on)
    return [
        "## Compression (permessage-deflate, `WSNS_COMPRESSION`; issue 28 goal 8)", "",
        f"`python -m bench.compression`: {figures['runs']} run(s), each off then on on fresh servers; "
        "median (min–max); the on/off change is taken run by run. Every client offers "
        "permessage-deflate; with compression off the server declines it. "
        f"{figures['idle_connections']:,} idle connections; fan-out: {figures['broadcasts']:,} broadcasts "
        f"of a 1 KB event to {figures['fanout_clients']} clients of one room.", "",
        "| figure | off | on | on vs off |", "| --- | ---: | ---: | ---: |",
        *(_row(figures, *row) for row in rows),
        f"| one compression of the 1 KB event's frame (µs, once per broadcast) | – | "
        f"{figures['compress_us_per_frame']:.1f} | – |", "",
        "Goals: CPU per delivery for 1 KB frames ≤ 1.3× off; RSS per idle connection ≤ +4 KiB. "
        + ("Every frame above was compressed on the wire (RSV1) in every run with compression on."
           if compressed else "**Some frame was not compressed with compression on: see the raw figures.**"),
    ]


plot = no_plot


def main(argv: list[str] | None = None) -> None:
    run_alone(__doc__, run_compression, render, argv)


if __name__ == "__main__":
    main()
