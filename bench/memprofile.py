"""Itemize what an idle connection costs in Python memory: sanic-wsns vs the raw floor.

``python -m bench.memprofile [--connections 500]`` runs each Sanic target in this process
(on a pre-bound loopback socket), opens the same idle connections to both with tracemalloc
on, and prints the allocation sites whose per-connection size differs most. RSS (W3) says
*how much*; this says *what*. The client side is identical for both, so it cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import tracemalloc
from typing import Any

from sanic import Sanic
from websockets.asyncio.client import connect

from bench.targets import raw_sanic_app, wsns_app


async def per_connection(build: Any, connections: int) -> dict[str, float]:
    """Bytes per connection by allocation site (``file:line``) after opening ``connections``."""
    Sanic.test_mode = True
    app = build("", False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/bench/"
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    options: dict[str, Any] = {"compression": None, "ping_interval": None, "proxy": None}
    clients = []
    try:
        for i in range(20):  # warm-up: lazily built state is not per connection
            warm = await connect(f"{url}warm-{i}", **options)
            await warm.recv()
            await warm.close()
        await asyncio.sleep(0.3)
        gc.collect()
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
        for i in range(connections):
            client = await connect(f"{url}idle-{i % 50}", **options)
            await client.recv()
            clients.append(client)
        await asyncio.sleep(0.5)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        for client in clients:
            await client.close()
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()
        Sanic._app_registry.pop(app.name, None)
    return {_site(stat.traceback[0]): stat.size_diff / connections
            for stat in after.compare_to(before, "lineno")}


def _site(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        name = name.split(marker)[-1]
    return f"{name}:{frame.lineno}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    ours = asyncio.run(per_connection(wsns_app.build, args.connections))
    floor = asyncio.run(per_connection(raw_sanic_app.build, args.connections))
    diff = sorted(((ours.get(k, 0.0) - floor.get(k, 0.0), k) for k in set(ours) | set(floor)), reverse=True)
    print(f"Python allocations per idle connection: sanic-wsns {sum(ours.values()):,.0f} B, "
          f"raw floor {sum(floor.values()):,.0f} B (client side included in both), "
          f"difference {sum(ours.values()) - sum(floor.values()):+,.0f} B")
    print("\nlargest differences (sanic-wsns minus floor, bytes per connection):")
    for size, site in diff[:args.top]:
        print(f"  {size:+7.0f}  {site}")
    print("  ...")
    for size, site in diff[-5:]:
        print(f"  {size:+7.0f}  {site}")


if __name__ == "__main__":
    main()
