# ruff: noqa: RUF001  (the report is typeset: en dashes, multiplication and division signs)
"""Where an idle connection's memory goes: bare ``websockets``, raw Sanic, sanic-wsns (and
sanic-wsns's SSE streams: ``--kinds sse``, the same app with plain HTTP ``GET`` streams as
its clients, as ``bench.sse_vs_ws`` opens them).

``python -m bench.memory [--connections 2000] [--kinds websockets,sanic,wsns]`` probes each
server kind in a fresh process of its own (so one kind's heap never holds another's
leftovers), with its clients in yet another process (so the figures are the server's only):

* **RSS per connection**: resident memory after opening ``connections`` idle clients minus
  before, over ``connections``, with nothing traced (what W3 and the scale curve measure);
* **Python allocations per connection** by package and by allocation site (tracemalloc,
  in a second, traced probe: tracing itself costs memory, so it never shares a run with
  the RSS figure);
* **objects per connection** by type (``gc.get_objects()`` counted before and after).

Every probe warms up first (20 connections opened and closed) so lazily built state
(caches, imports, the first namespace) is not billed per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from bench.figures import spread
from bench.procstat import rss_bytes
from bench.servers import ROOT
from bench.standalone import interleaved

#: The kinds of the section (``bench.run``, issue 28 goal 1).
KINDS = ("websockets", "sanic", "wsns")
#: Every kind a probe may take: the section's, and sanic-wsns's SSE streams.
PROBE_KINDS = (*KINDS, "sse")
KIND_NAMES = {"websockets": "bare websockets", "sanic": "raw Sanic", "wsns": "sanic-wsns",
              "sse": "sanic-wsns, SSE"}
WARM_UP = 20
ROOMS = 50
SETTLE = 0.5
PACKAGES = ("sanic_wsns", "sanic_routing", "sanic", "websockets", "uvloop", "asyncio", "httptools",
            "msgspec", "bench")

Stop = Callable[[], Awaitable[None]]


# -- the servers under probe, each on a pre-bound loopback socket ---------------------------


def _listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve_websockets(sock: socket.socket) -> Stop:
    """A bare ``websockets`` server with its defaults: a welcome frame, then hold the
    connection reading (its keepalive task per connection included, as users run it)."""
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        await ws.send('{"type":"welcome","data":null}')
        async for _ in ws:
            pass

    server = await serve(handler, sock=sock, compression=None)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return stop


async def serve_sanic_app(sock: socket.socket, build: Callable[[str, bool], Any]) -> Stop:
    from sanic import Sanic

    Sanic.test_mode = True
    app = build("", False)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()

    async def stop() -> None:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        Sanic._app_registry.pop(app.name, None)

    return stop


async def start_kind(kind: str, sock: socket.socket) -> Stop:
    if kind == "websockets":
        return await serve_websockets(sock)
    from bench.targets import raw_sanic_app, wsns_app

    builds = {"sanic": raw_sanic_app.build, "wsns": wsns_app.build, "sse": wsns_app.build}
    return await serve_sanic_app(sock, builds[kind])


# -- the client process --------------------------------------------------------------------


async def hold_clients(url: str) -> None:
    """Read ``open <count> <prefix>`` / ``close`` commands on stdin; answer ``done``.

    Opens ``count`` clients over ``ROOMS`` rooms named ``<prefix>-<i>``, waiting for each
    one's first frame (the server has admitted it); ``close`` closes all of them. An
    ``http://`` URL gets SSE streams (``bench.sse_vs_ws.SseReceiver``), a ``ws://`` one
    WebSockets."""
    from websockets.asyncio.client import connect

    from bench.sse_vs_ws import SSE_PREFIX, SseReceiver

    loop = asyncio.get_running_loop()
    held: list[Any] = []
    gate = asyncio.Semaphore(50)
    host, _, port = url.split("//")[1].partition(":")

    async def one(room: str) -> Any:
        async with gate:
            if url.startswith("http"):
                stream = SseReceiver(lambda receiver: None)
                await asyncio.wait_for(stream.open(host, int(port), f"{SSE_PREFIX}/bench/{room}"), 60)
                return stream
            ws = await connect(f"{url}/bench/{room}", compression=None, ping_interval=None, proxy=None,
                               open_timeout=60)
            await ws.recv()
            return ws

    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = line.split()
        if command[0] == "open":
            count, prefix = int(command[1]), command[2]
            held += await asyncio.gather(*(one(f"{prefix}-{i % ROOMS}") for i in range(count)))
        elif command[0] == "close":
            await asyncio.gather(*(client.close() for client in held), return_exceptions=True)
            held.clear()
        print("done", flush=True)


class Clients:
    """The client process, driven line by line (each command waits for its ``done``)."""

    def __init__(self, url: str):
        self.process = subprocess.Popen([sys.executable, "-m", "bench.memory", "--clients", url], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    async def command(self, line: str) -> None:
        def exchange() -> str:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            return self.process.stdout.readline().strip()

        answer = await asyncio.get_running_loop().run_in_executor(None, exchange)
        if answer != "done":
            raise RuntimeError(f"client process failed on {line!r} (exit code {self.process.poll()})")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


# -- one probe: one server kind in this process --------------------------------------------


def type_counts() -> collections.Counter[str]:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def package_of(filename: str) -> str:
    for name in PACKAGES:
        if f"/{name}/" in filename or filename.endswith(f"/{name}.py"):
            return name
    return "other"


def site_of(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        name = name.split(marker)[-1]
    return f"{name}:{frame.lineno}"


async def probe(kind: str, connections: int, traced: bool) -> dict[str, Any]:
    """Open ``connections`` idle clients to a ``kind`` server in this process; the figures."""
    sock = _listening_socket()
    stop = await start_kind(kind, sock)
    scheme = "http" if kind == "sse" else "ws"
    clients = Clients(f"{scheme}://127.0.0.1:{sock.getsockname()[1]}")
    try:
        await clients.command(f"open {WARM_UP} warm")
        await clients.command("close")
        await asyncio.sleep(SETTLE)
        gc.collect()
        counts_before = type_counts() if traced else None
        if traced:
            tracemalloc.start(1)
        snapshot_before = tracemalloc.take_snapshot() if traced else None
        rss_before = rss_bytes_self()
        started = time.perf_counter()
        await clients.command(f"open {connections} idle")
        open_seconds = time.perf_counter() - started
        await asyncio.sleep(SETTLE)
        gc.collect()
        rss_after = rss_bytes_self()
        figures: dict[str, Any] = {"kind": kind, "connections": connections, "traced": traced,
                                   "rss_per_connection": (rss_after - rss_before) / connections,
                                   "open_seconds": open_seconds}
        if traced:
            assert snapshot_before is not None and counts_before is not None
            snapshot_after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            diff = snapshot_after.compare_to(snapshot_before, "lineno")
            by_package: collections.Counter[str] = collections.Counter()
            for stat in diff:
                by_package[package_of(stat.traceback[0].filename)] += stat.size_diff
            figures["python_per_connection"] = sum(s.size_diff for s in diff) / connections
            figures["by_package"] = {k: v / connections for k, v in by_package.items()}
            figures["by_site"] = {site_of(s.traceback[0]): s.size_diff / connections for s in diff
                                  if abs(s.size_diff) >= connections}
            counts_after = type_counts()
            counts_after.subtract(counts_before)
            figures["objects_per_connection"] = {t: n / connections for t, n in counts_after.items()
                                                 if n >= connections // 2}
        return figures
    finally:
        await clients.command("close")
        clients.stop()
        await stop()
        sock.close()


def rss_bytes_self() -> int:
    import os

    return rss_bytes(os.getpid())


def run_probe(kind: str, connections: int, traced: bool) -> dict[str, Any]:
    """``probe`` in a fresh process (uvloop, as the targets run)."""
    done = subprocess.run([sys.executable, "-m", "bench.memory", "--probe", kind, "--connections",
                           str(connections)] + (["--traced"] if traced else []),
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe of {kind} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


# -- the report ----------------------------------------------------------------------------


def breakdown(results: dict[str, dict[str, dict[str, Any]]], top: int = 12) -> str:
    """Markdown: RSS and Python bytes per connection per kind, then where sanic-wsns's
    Python bytes go by package, by site, and by object type."""
    kinds = list(results)
    out = ["| per idle connection | " + " | ".join(KIND_NAMES[k] for k in kinds) + " |",
           "| --- |" + " ---: |" * len(kinds),
           "| RSS (KiB) | " + " | ".join(f"{results[k]['rss']['rss_per_connection'] / 1024:.1f}"
                                         for k in kinds) + " |",
           "| Python allocations, tracemalloc (KiB) | " + " | ".join(
               f"{results[k]['traced']['python_per_connection'] / 1024:.1f}" for k in kinds) + " |"]
    packages = sorted({p for k in kinds for p in results[k]["traced"]["by_package"]})
    for package in packages:
        cells = [results[k]["traced"]["by_package"].get(package, 0.0) for k in kinds]
        if max(abs(c) for c in cells) >= 64:
            out.append(f"| … allocated in `{package}` (B) | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")
    for kind in kinds:
        traced = results[kind]["traced"]
        sites = sorted(traced["by_site"].items(), key=lambda kv: -kv[1])[:top]
        objects = sorted(traced["objects_per_connection"].items(), key=lambda kv: -kv[1])
        out += ["", f"{KIND_NAMES[kind]}: largest allocation sites (bytes per connection):", "",
                *(f"- `{site}` {size:,.0f}" for site, size in sites),
                "", f"{KIND_NAMES[kind]}: objects per connection (gc-tracked): "
                + ", ".join(f"{name} {n:.1f}" for name, n in objects)]
    return "\n".join(out)


def measure(kinds: list[str], connections: int) -> dict[str, dict[str, dict[str, Any]]]:
    return {kind: {"rss": run_probe(kind, connections, False), "traced": run_probe(kind, connections, True)}
            for kind in kinds}


# -- the section of ``bench.run`` (issue 28 goal 1) -------------------------------------------

#: Goal 1: an idle connection costs at most this (KiB of RSS), and no more than the bare
#: ``websockets`` server's in the same run.
GOAL_KIB = 14.0


def run_section(quick: bool, runs: int | None = None) -> dict[str, Any]:
    """RSS per idle connection of every kind, untraced, interleaved ``runs`` times (each
    probe a fresh process): W3's 5,000 connections, the kinds side by side in one run."""
    connections = 100 if quick else 5_000
    count = runs or (1 if quick else 3)
    results = interleaved("memory", KINDS, count,
                          lambda kind: {"rss_kib_per_connection":
                                        run_probe(kind, connections, False)["rss_per_connection"] / 1024})
    rss = {kind: [r["rss_kib_per_connection"] for r in runs_of] for kind, runs_of in results.items()}
    return {"quick": quick, "connections": connections, "runs": count, "rss_kib": rss}


def render(figures: dict[str, Any]) -> list[str]:
    """The section's markdown: RSS per idle connection of each kind, and goal 1's verdict."""
    rss = figures["rss_kib"]
    ours, bare = rss["wsns"], rss["websockets"]
    ratios = [o / b for o, b in zip(ours, bare, strict=True) if b]
    met = statistics.median(ours) <= GOAL_KIB and bool(ratios) and statistics.median(ratios) <= 1.0
    return [
        "## Idle memory against a bare `websockets` server (issue 28 goal 1)", "",
        f"`python -m bench.memory --section`: {figures['connections']:,} idle connections to each kind "
        f"of server, each in a fresh process of its own (uvloop), its clients in another; RSS after "
        f"opening minus before, over the connections; {figures['runs']} run(s), the kinds interleaved, "
        "median (min–max). Bare `websockets`: its `serve()` with its defaults (a keepalive task per "
        "connection), a welcome frame, then reading; raw Sanic and sanic-wsns: the bench targets "
        f"(`bench/targets/`). The clients spread over {ROOMS} rooms.", "",
        "| per idle connection | " + " | ".join(KIND_NAMES[k] for k in rss) + " |",
        "| --- |" + " ---: |" * len(rss),
        "| RSS (KiB) | " + " | ".join(spread(rss[k], "{:.1f}") for k in rss) + " |", "",
        f"Goal: at most {GOAL_KIB:g} KiB and at most the bare `websockets` server's in the same run: "
        f"sanic-wsns ÷ bare `websockets` {spread(ratios, '{:.2f}×')}, "
        f"{'**met**' if met else '**not met**'}. Where the bytes go (tracemalloc by package, site and "
        "object type): `python -m bench.memory`.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--section", action="store_true",
                        help="only RSS, kinds interleaved: what bench.run reports (issue 28 goal 1)")
    parser.add_argument("--quick", action="store_true", help="with --section: the smoke test's sizes")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"of {', '.join(PROBE_KINDS)}")
    parser.add_argument("--probe", choices=PROBE_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clients", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import uvloop

    if args.clients:
        uvloop.run(hold_clients(args.clients))
    elif args.section:
        print("\n".join(render(run_section(args.quick))))
    elif args.probe:
        print(json.dumps(uvloop.run(probe(args.probe, args.connections, args.traced))))
    else:
        print(breakdown(measure(args.kinds.split(","), args.connections)))


if __name__ == "__main__":
    main()
