"""The load generator: WebSocket clients in their own process, so the server's CPU is its own.

``python -m bench.loadgen '<json spec>'`` runs one workload's client side and talks to the
orchestrator (``bench.workloads``) over stdio, one JSON object a line:

* ``{"event": "ready", "stage": S}`` — clients are set up; the orchestrator samples the
  server(s) from ``/proc`` and answers ``go``;
* ``{"event": "end", "stage": S}`` — the stage is over; the orchestrator samples again and
  answers ``go`` (so closing sockets never lands in a stage's CPU);
* ``{"event": "result", ...}`` — the figures only the clients can see (rates, latencies).

Every target is driven by the same ``websockets`` client (no compression, no client-side
keepalive pings). Socket.IO is spoken as Engine.IO v4 / Socket.IO v5 text packets over that
same client instead of python-socketio's ``AsyncClient``: the load generator's cost is then
the same for every target and the Socket.IO server still sees a standard client.

Why not ``sanic_wsns.remote`` for the sanic-wsns target: it costs the load generator more
CPU per delivery (W1's windowed fan-out, 200 clients x 300-500 broadcasts on one 2-core
machine, five alternating runs each: median 8.3 µs per delivery against 7.0 µs here, and
112k against 128k deliveries/s), and it cannot stamp arrival at ``data_received`` (see
``StampedConnection``), so its latencies would include the generator's own queueing. Both
would bill the client's work to the server being measured, and only for one target.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.targets.common import raise_fd_limit
from tests.support.polling import wait_for
from tests.support.processes import accepts

#: Pads every broadcast to the same size: ``{"type":"echo-all","data":{...}}`` is ~100 bytes.
PAD = "x" * 24
OPEN_TIMEOUT = 30.0


class StampedConnection(ClientConnection):
    """A client connection that notes when bytes last arrived from the server.

    Latency is taken at arrival (the start of ``data_received``), not when the client's
    reader task gets round to the message: with 200 clients in one process a broadcast
    arrives as a burst of 200 sockets, and the time the load generator spends queueing its
    own reader tasks would otherwise swamp the server's part (and penalize the server that
    writes the burst fastest). Paced broadcasts are 20 ms apart, so a client's message and
    its arrival stamp belong together.
    """

    received_ns = 0

    def data_received(self, data: bytes) -> None:
        self.received_ns = time.monotonic_ns()
        super().data_received(data)


class Dialect:
    """How one target spells join, send and receive on the wire (sanic-wsns and the raw
    floor share the ``{"type", "data"}`` envelope)."""

    def url(self, base: str, room: str) -> str:
        return f"{base}/bench/{room}"

    async def join(self, ws: ClientConnection, room: str) -> str | bytes:
        """Wait until the server says the connection joined ``room``; return that frame."""
        return await ws.recv()  # the server's first frame: joined

    def encode(self, data: dict[str, Any]) -> str:
        return json.dumps({"type": "echo-all", "data": data}, separators=(",", ":"))

    def decode(self, message: str | bytes) -> dict[str, Any] | None:
        frame = json.loads(message)
        return frame["data"] if frame.get("type") == "echo-all" else None

    def reply(self, message: str | bytes) -> str | None:
        """A frame the client must answer (Engine.IO's ping), else ``None``."""
        return None


class FrameDialect(Dialect):
    """sanic-wsns seen whole: every frame after ``welcome`` is handed on as a dict (type,
    data, ``offset``), for workloads that count presence frames or check offsets."""

    def decode(self, message: str | bytes) -> dict[str, Any] | None:
        return dict(json.loads(message))


class SocketIODialect(Dialect):
    """Engine.IO v4 over WebSocket: ``0`` open, ``2``/``3`` ping/pong, ``4`` message;
    Socket.IO v5 inside: ``40`` connect (auth names the room), ``42`` event."""

    def url(self, base: str, room: str) -> str:
        return f"{base}/socket.io/?EIO=4&transport=websocket"

    async def join(self, ws: ClientConnection, room: str) -> str | bytes:
        opened = await ws.recv()
        if not str(opened).startswith("0"):
            raise RuntimeError(f"expected an Engine.IO open packet, got {opened!r}")
        await ws.send("40" + json.dumps({"room": room}))
        while True:
            ack = str(await ws.recv())
            if ack.startswith("40"):
                return ack
            if ack.startswith("44"):
                raise RuntimeError(f"Socket.IO refused the connect: {ack}")

    def encode(self, data: dict[str, Any]) -> str:
        return "42" + json.dumps(["echo-all", data], separators=(",", ":"))

    def decode(self, message: str | bytes) -> dict[str, Any] | None:
        if isinstance(message, str) and message.startswith("42"):
            event, data = json.loads(message[2:])
            return data if event == "echo-all" else None
        return None

    def reply(self, message: str | bytes) -> str | None:
        return "3" if message == "2" else None


DIALECTS: dict[str, Dialect] = {"wsns": Dialect(), "raw": Dialect(), "socketio": SocketIODialect(),
                                 "wsns-frames": FrameDialect()}


@dataclass
class Client:
    index: int
    instance: int
    ws: StampedConnection
    joined: str | bytes = ""  # the server's "joined" frame (sanic-wsns: welcome)
    received: int = 0
    reader: asyncio.Task[None] | None = None


@dataclass
class Tally:
    """Deliveries seen by every client of a stage, and when the stage is complete."""

    expected: int
    received: int = 0
    latencies: list[list[int]] = field(default_factory=lambda: [[], []])  # by instance: [local, remote]
    worst: dict[int, int] = field(default_factory=dict)  # seq -> slowest delivery (ns), for --trace
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stage: str = ""

    def got(self, client: Client, data: dict[str, Any], sender_instance: int) -> None:
        if data.get("p") != self.stage:
            return
        client.received += 1
        self.received += 1
        latency = client.ws.received_ns - data["t"]
        self.latencies[client.instance != sender_instance].append(latency)
        if latency > self.worst.get(data["seq"], 0):
            self.worst[data["seq"]] = latency
        if self.received >= self.expected:
            self.done.set()


class Harness:
    """Opens clients, reads their frames, and speaks the stage protocol on stdio."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self.on_data: Callable[[Client, dict[str, Any]], None] = lambda client, data: None

    async def open(self, url: str, room: str, index: int, instance: int, query: str = "",
                   **options: Any) -> Client:
        """Connect and join; ``query`` (``since=…&epoch=…``) goes on the upgrade URL,
        ``options`` go to ``connect`` (``sock``: an already connected socket, as
        bench.scale's load generators make them; ``create_connection``: a
        ``StampedConnection`` of another kind)."""
        address = self.dialect.url(url, room) + (f"?{query}" if query else "")
        ws = await connect(address, ping_interval=None, compression=None, proxy=None,
                           open_timeout=OPEN_TIMEOUT, close_timeout=2, max_queue=None,
                           **{"create_connection": StampedConnection, **options})
        joined = await asyncio.wait_for(self.dialect.join(ws, room), OPEN_TIMEOUT)
        assert isinstance(ws, StampedConnection)
        client = Client(index, instance, ws, joined)
        client.reader = asyncio.get_running_loop().create_task(self._read(client))
        return client

    async def open_many(self, plan: Sequence[tuple[str, str, int] | tuple[str, str, int, str]],
                        concurrency: int) -> list[Client]:
        """Open ``(url, room, instance[, query])`` connections, at most ``concurrency``
        handshakes at once; client ``i`` is ``plan[i]``."""
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int, url: str, room: str, instance: int, query: str = "") -> Client:
            async with gate:
                return await self.open(url, room, index, instance, query)

        return list(await asyncio.gather(*(one(i, *p) for i, p in enumerate(plan))))

    async def _read(self, client: Client) -> None:
        dialect = self.dialect
        try:
            async for message in client.ws:
                data = dialect.decode(message)
                if data is not None:
                    self.on_data(client, data)
                    continue
                answer = dialect.reply(message)
                if answer is not None:
                    await client.ws.send(answer)
        except Exception as exc:  # a closed connection ends its reader; nothing else should
            if not isinstance(exc, ConnectionError) and "ConnectionClosed" not in type(exc).__name__:
                emit({"event": "error", "error": repr(exc)})

    async def stage(self, name: str, body: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        emit({"event": "ready", "stage": name})
        await self._wait_go()
        figures = await body()
        emit({"event": "end", "stage": name})
        await self._wait_go()
        return figures

    async def _wait_go(self) -> None:
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit("orchestrator went away")


async def close_all(clients: Sequence[Client]) -> None:
    gate = asyncio.Semaphore(200)

    async def one(client: Client) -> None:
        async with gate:
            await client.ws.close()
        if client.reader is not None:
            client.reader.cancel()

    await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def percentile(values: Sequence[int], q: float) -> float | None:
    """``q``-th percentile of nanosecond samples, in milliseconds (nearest rank)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[rank] / 1e6


def message(stage: str, seq: int) -> dict[str, Any]:
    return {"p": stage, "seq": seq, "t": time.monotonic_ns(), "pad": PAD}


# -- workloads (client side) -------------------------------------------------------------


async def fanout(h: Harness, spec: dict[str, Any]) -> dict[str, Any]:
    """W1/W2: one room, clients spread over ``urls``; client 0 (on instance 0) broadcasts.

    Windowed: at most ``window`` broadcasts unanswered (the sender's own echo answers);
    then paced: ``paced`` broadcasts at ``rate``/s, where latency means something.
    """
    urls: list[str] = spec["urls"]
    n_clients: int = spec["clients"]
    plan = [(urls[i % len(urls)], spec["room"], i % len(urls)) for i in range(n_clients)]
    clients = await h.open_many(plan, spec.get("concurrency", 50))
    sender = clients[0]
    tally = Tally(0)
    window = asyncio.Semaphore(spec["window"])

    def on_data(client: Client, data: dict[str, Any]) -> None:
        tally.got(client, data, sender.instance)
        if client is sender and data.get("p") == "w":
            window.release()

    h.on_data = on_data
    timeout = spec.get("timeout", 120.0)

    async def windowed() -> dict[str, Any]:
        nonlocal tally
        count = spec["broadcasts"]
        tally = Tally(count * n_clients, stage="w")
        start = time.perf_counter()
        for seq in range(count):
            await window.acquire()
            await sender.ws.send(h.dialect.encode(message("w", seq)))
        await _wait(tally.done, start + timeout)
        seconds = time.perf_counter() - start
        return {"deliveries": tally.received, "expected": tally.expected, "seconds": seconds,
                "deliveries_per_s": tally.received / seconds}

    async def paced() -> dict[str, Any]:
        nonlocal tally
        count, rate = spec["paced"], spec["rate"]
        tally = Tally(count * n_clients, stage="p")
        start = time.perf_counter()
        for seq in range(count):
            delay = start + seq / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await sender.ws.send(h.dialect.encode(message("p", seq)))
        await _wait(tally.done, time.perf_counter() + min(timeout, 30.0))
        local, remote = tally.latencies
        return {"deliveries": tally.received, "expected": tally.expected,
                "p50_ms": percentile(local + remote, 50), "p99_ms": percentile(local + remote, 99),
                "local_p50_ms": percentile(local, 50), "local_p99_ms": percentile(local, 99),
                "remote_p50_ms": percentile(remote, 50), "remote_p99_ms": percentile(remote, 99),
                "worst_ms_by_seq": [round(tally.worst.get(i, 0) / 1e6, 2) for i in range(count)]}

    result = {"windowed": await h.stage("windowed", windowed), "paced": await h.stage("paced", paced)}
    await close_all(clients)
    return result


async def idle(h: Harness, spec: dict[str, Any]) -> dict[str, Any]:
    """W3: open ``connections`` over ``namespaces`` rooms on one instance, then hold them."""
    url = spec["urls"][0]
    concurrency = spec.get("concurrency", 50)
    # A warm-up round so lazily built server state (imports, caches) is not billed per connection.
    await close_all(await h.open_many([(url, f"warm-{i}", 0) for i in range(20)], concurrency))
    await asyncio.sleep(spec.get("settle", 1.0) / 2)
    clients: list[Client] = []

    async def open_all() -> dict[str, Any]:
        plan = [(url, f"idle-{i % spec['namespaces']}", 0) for i in range(spec["connections"])]
        start = time.perf_counter()
        clients.extend(await h.open_many(plan, concurrency))
        seconds = time.perf_counter() - start
        await asyncio.sleep(spec.get("settle", 1.0))
        return {"connections": len(clients), "seconds": seconds, "opens_per_s": len(clients) / seconds}

    result = await h.stage("open", open_all)
    await close_all(clients)
    return result


async def churn(h: Harness, spec: dict[str, Any]) -> dict[str, Any]:
    """W4: ``workers`` loops, each connecting to a fresh room, joining, and leaving."""
    url = spec["urls"][0]
    per_worker = spec["cycles"] // spec["workers"]

    async def cycle(room: str) -> None:
        client = await h.open(url, room, 0, 0)
        await client.ws.close()
        if client.reader is not None:
            await client.reader

    async def warm(w: int) -> None:
        for i in range(2):
            await cycle(f"warm-{w}-{i}")

    async def worker(w: int) -> None:
        for i in range(per_worker):
            await cycle(f"churn-{w}-{i}")

    # A warm-up round so lazily built server state is not billed to the stage.
    await asyncio.gather(*(warm(w) for w in range(spec["workers"])))

    async def run() -> dict[str, Any]:
        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(spec["workers"])))
        seconds = time.perf_counter() - start
        cycles = per_worker * spec["workers"]
        return {"cycles": cycles, "seconds": seconds, "cycles_per_s": cycles / seconds}

    return await h.stage("churn", run)


async def many(h: Harness, spec: dict[str, Any]) -> dict[str, Any]:
    """W5: one sender per room on instance A (``namespaces`` rooms); instance B hosts a
    receiver in only ``hosted_on_b`` of them. Each sender sends ``messages``, one at a time."""
    url_a, url_b = spec["urls"]
    n, on_b, m = spec["namespaces"], spec["hosted_on_b"], spec["messages"]
    concurrency = spec.get("concurrency", 50)
    senders = await h.open_many([(url_a, f"many-{i}", 0) for i in range(n)], concurrency)
    receivers = await h.open_many([(url_b, f"many-{i}", 1) for i in range(on_b)], concurrency)
    echoed = {c.index: asyncio.Queue[None]() for c in senders}
    tally = Tally((n + on_b) * m, stage="m")

    def on_data(client: Client, data: dict[str, Any]) -> None:
        tally.got(client, data, 0)
        if client.instance == 0:
            echoed[client.index].put_nowait(None)

    h.on_data = on_data

    async def send(client: Client) -> None:
        for seq in range(m):
            await client.ws.send(h.dialect.encode(message("m", seq)))
            await asyncio.wait_for(echoed[client.index].get(), 30)

    async def run() -> dict[str, Any]:
        start = time.perf_counter()
        await asyncio.gather(*(send(c) for c in senders))
        await _wait(tally.done, time.perf_counter() + 30)
        seconds = time.perf_counter() - start
        await asyncio.sleep(spec.get("settle", 0.5))  # let any stray relay arrive before B is read
        return {"messages": n * m, "deliveries": tally.received, "expected": tally.expected,
                "b_deliveries": sum(c.received for c in receivers), "seconds": seconds}

    result = await h.stage("traffic", run)
    await close_all(senders + receivers)
    return result


async def presence_churn(h: Harness, spec: dict[str, Any]) -> dict[str, Any]:
    """Presence cost: ``clients`` join one room over ``span`` seconds (evenly spaced,
    alternating between ``urls``), each stays ``hold`` seconds, then leaves.

    Counts every frame the clients receive, by type: with presence on, what a join costs
    the room is ``presence_state`` to the joiner plus its share of ``presence_diff`` frames.
    """
    urls: list[str] = spec["urls"]
    n, span, hold, room = spec["clients"], spec["span"], spec["hold"], spec["room"]
    frames: dict[str, int] = {}
    diff_entries = 0

    def on_data(client: Client, frame: dict[str, Any]) -> None:
        nonlocal diff_entries
        kind = frame.get("type", "?")
        frames[kind] = frames.get(kind, 0) + 1
        if kind == "presence_diff":
            diff_entries += len(frame["data"].get("joins", ())) + len(frame["data"].get("leaves", ()))

    h.on_data = on_data

    async def life(i: int, start: float) -> None:
        delay = start + i * span / n - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        client = await h.open(urls[i % len(urls)], room, i, i % len(urls))
        await asyncio.sleep(hold)
        await client.ws.close()
        if client.reader is not None:
            await client.reader

    async def run() -> dict[str, Any]:
        start = time.perf_counter()
        await asyncio.gather(*(life(i, start) for i in range(n)))
        seconds = time.perf_counter() - start
        # Leaves still in a presence batch go out after the last close: bill them here.
        await asyncio.sleep(spec.get("settle", 0.5))
        return {"joins": n, "seconds": seconds, "frames": frames, "diff_entries": diff_entries}

    return await h.stage("churn", run)


@dataclass
class Catchup:
    """One recovering client's view: its position and whether its frames come in order."""

    offset: int | None = None
    epoch: str | None = None
    out_of_order: int = 0
    recovered: bool | None = None
    resynced: bool = False

    def welcomed(self, welcome: dict[str, Any]) -> None:
        position = welcome.get("position") or {}
        self.recovered = welcome.get("recovered")
        if self.offset is None or not self.recovered:
            self.offset = position.get("offset")
        self.epoch = position.get("epoch", self.epoch)

    def heard(self, offset: int) -> None:
        if self.offset is not None and offset != self.offset + 1:
            self.out_of_order += 1
        self.offset = offset

    def query(self) -> str:
        """The v1.1 recovery query (``since``/``epoch``), as the browser client sends it."""
        return "" if self.offset is None or not self.epoch else f"since={self.offset}&epoch={self.epoch}"


async def recovery(h: Harness, spec: dict[str, Any]) -> dict[str, Any]:
    """Recovery after an instance restart: ``clients`` in one room on instance A, a
    publisher on B. Stage ``outage``: the orchestrator kills A when it starts; the publisher
    sends ``missed`` broadcasts (each echoed before the next). Before stage ``recovery`` the
    orchestrator restarts A on its port; every client reconnects with its last offset and
    epoch (at most ``concurrency`` handshakes at once, as a deploy's backoff would spread
    them) and is done once it has every missed frame, or a ``resync``.
    """
    url_a, url_b = spec["urls"]
    n, missed, room = spec["clients"], spec["missed"], spec["room"]
    concurrency = spec.get("concurrency", 50)
    views = [Catchup() for _ in range(n + 1)]  # the publisher is the last
    echoed: asyncio.Queue[int | None] = asyncio.Queue()
    done: set[int] = set()
    all_done = asyncio.Event()
    target: dict[str, int | None] = {"offset": None}
    caught_up = 0  # missed frames received after the restart

    def finish(index: int) -> None:
        done.add(index)
        if len(done) >= n:
            all_done.set()

    def on_data(client: Client, frame: dict[str, Any]) -> None:
        nonlocal caught_up
        view = views[client.index]
        kind = frame.get("type")
        if kind == "echo-all":
            if "offset" in frame:
                view.heard(frame["offset"])
            if client.index == n:
                echoed.put_nowait(frame.get("offset"))
            elif target["offset"] is not None:
                caught_up += 1
                if view.offset == target["offset"]:
                    finish(client.index)
        elif kind == "resync":
            view.resynced = True
            finish(client.index)

    h.on_data = on_data

    def welcomed(client: Client) -> Client:
        views[client.index].welcomed(json.loads(client.joined)["data"])
        return client

    clients = [welcomed(c) for c in await h.open_many([(url_a, room, 0)] * n, concurrency)]
    publisher = welcomed(await h.open(url_b, room, n, 1))

    async def publish(stage: str, count: int) -> int | None:
        offset = None
        for seq in range(count):
            await publisher.ws.send(h.dialect.encode(message(stage, seq)))
            offset = await asyncio.wait_for(echoed.get(), 30)
        return offset

    await publish("warm", 1)  # every client now holds an offset (history on)
    await asyncio.sleep(spec.get("settle", 0.5))

    async def outage() -> dict[str, Any]:
        readers = [c.reader for c in clients if c.reader is not None]
        await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 30)
        target["offset"] = await publish("missed", missed)
        return {"published": missed}

    async def come_back() -> dict[str, Any]:
        start = time.perf_counter()
        plan = [(url_a, room, 0, views[i].query()) for i in range(n)]
        back = await h.open_many(plan, concurrency)
        for client in back:
            welcomed(client)
            if target["offset"] is None or views[client.index].offset == target["offset"]:
                finish(client.index)  # nothing to catch up: history off (the app re-fetches)
        await _wait(all_done, time.perf_counter() + spec.get("timeout", 120.0))
        seconds = time.perf_counter() - start
        clients[:] = back
        returning = views[:n]
        return {"seconds": seconds, "done": len(done),
                "recovered": sum(1 for v in returning if v.recovered and v.offset == target["offset"]),
                "resynced": sum(1 for v in returning if v.resynced),
                "out_of_order": sum(v.out_of_order for v in returning),
                "caught_up_frames": caught_up}

    result = {"outage": await h.stage("outage", outage), "recovery": await h.stage("recovery", come_back)}
    await close_all([*clients, publisher])
    return result


async def _wait(event: asyncio.Event, deadline: float) -> None:
    with contextlib.suppress(TimeoutError):  # the result then shows deliveries < expected
        await asyncio.wait_for(event.wait(), max(0.0, deadline - time.perf_counter()))


WORKLOADS: dict[str, Callable[[Harness, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "fanout": fanout, "idle": idle, "churn": churn, "many": many, "presence": presence_churn,
    "recovery": recovery,
}


async def wait_listening(urls: Sequence[str], timeout: float = 60.0) -> None:
    """The servers start alongside this process: wait until each accepts connections."""
    ports = [int(url.rsplit(":", 1)[1]) for url in urls]
    await wait_for(lambda: all(accepts(port) for port in ports), timeout, interval=0.05,
                   what=f"servers listening on ports {ports}")


async def main(spec: dict[str, Any]) -> None:
    await wait_listening(spec["urls"])
    harness = Harness(DIALECTS[spec["target"]])
    result = await WORKLOADS[spec["workload"]](harness, spec)
    emit({"event": "result", **result})


if __name__ == "__main__":
    raise_fd_limit()
    try:
        import uvloop
        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main(json.loads(sys.argv[1])))
