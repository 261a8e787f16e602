"""A small TCP proxy on loopback that can misbehave the way real networks do.

* ``freeze()``: every open connection stops carrying bytes in both directions, without
  closing (a NAT that forgot the flow, a stalled middlebox). Connections opened
  afterwards flow normally, so a client that notices and reconnects gets through.
* ``cut()``: every open connection is dropped at once, both ways, without a close frame
  (a server that died, a network that went away); ``target_port`` may be changed first,
  so that the reconnect reaches another instance, as behind a load balancer.
* ``upstream_delay``: bytes from the client to the server are held this many seconds
  (a slow path), so "returned before the server saw it" becomes visible.
* ``refuse()`` / ``accept()``: cut every open connection and close new ones at once (the
  server is unreachable for this client only, while others reach it), then let them through
  again: the test, not a backoff timer, decides when the client gets back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TcpProxy:
    def __init__(self, target_port: int, *, upstream_delay: float = 0.0):
        self.target_port = target_port
        self.upstream_delay = upstream_delay
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing: list[asyncio.Event] = []  # one per connection, set while it flows
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._refusing = False
        self.connections = 0

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, scheme: str = "redis", path: str = "/0") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def freeze(self) -> None:
        """Stop every open connection's bytes (both ways), leaving the sockets open."""
        for flowing in self._flowing:
            flowing.clear()

    def cut(self) -> None:
        """Drop every open connection at once (TCP reset, no close frame, both ways)."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
    def refuse(self) -> None:
        """Cut every open connection, and close new ones as soon as they are accepted."""
        self._refusing = True
        for pump in self._pumps:
            pump.cancel()

    def accept(self) -> None:
        """Let new connections through again."""
        self._refusing = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_writer.close()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        self.connections += 1
        self._writers += [client_writer, server_writer]
        flowing = asyncio.Event()
        flowing.set()
        self._flowing.append(flowing)
        for pump in (self._pump(client_reader, server_writer, flowing, self.upstream_delay),
                     self._pump(server_reader, client_writer, flowing, 0.0)):
            task = asyncio.get_running_loop().create_task(pump)
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    flowing: asyncio.Event, delay: float) -> None:
        try:
            while data := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)  # the fault itself, not a synchronisation
                await flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@asynccontextmanager
async def tcp_proxy(target_port: int, *, upstream_delay: float = 0.0) -> AsyncIterator[TcpProxy]:
    """A running ``TcpProxy`` to ``127.0.0.1:target_port``, closed on exit."""
    proxy = await TcpProxy(target_port, upstream_delay=upstream_delay).start()
    try:
        yield proxy
    finally:
        await proxy.close()
