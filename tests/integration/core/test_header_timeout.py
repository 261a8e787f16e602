"""What bounds a slow upgrade request (slowloris), as docs/security.md says: in Sanic,
``REQUEST_TIMEOUT`` closes a connection whose request head stalls, but it counts from the
last byte received, so a client that trickles its head never meets it. The bound is the
reverse proxy's: nginx's ``client_header_timeout`` wants the whole head within the time.
If Sanic ever bounds the whole head, the second test fails: then update the docs."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from sanic_wsns import WsNamespaces
from tests.support.ports import free_port
from tests.support.processes import ServerProcess
from tests.support.servers import new_app, serve

#: Seconds: Sanic's REQUEST_TIMEOUT for these tests (60 by default).
REQUEST_TIMEOUT = 1
HEAD = b"GET /ws/rooms/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


async def trickle(writer: asyncio.StreamWriter, seconds: float) -> None:
    """One byte of a header every quarter of REQUEST_TIMEOUT (the trickle is the stimulus)."""
    for _ in range(int(seconds / REQUEST_TIMEOUT * 4)):
        writer.write(b"X")
        await writer.drain()
        await asyncio.sleep(REQUEST_TIMEOUT / 4)


@asynccontextmanager
async def started_upgrade() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A server with a pattern, and a connection that sent an upgrade's head but its end."""
    app = new_app()
    app.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT
    WsNamespaces(app).pattern("/ws/rooms/<room:int>")
    async with serve(app) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(HEAD)
        try:
            yield reader, writer
        finally:
            writer.close()


async def test_a_stalled_upgrade_head_is_closed_after_request_timeout():
    async with started_upgrade() as (reader, _):
        answer = await asyncio.wait_for(reader.read(), timeout=REQUEST_TIMEOUT + 5)
        assert answer.startswith(b"HTTP/1.1 408")


async def test_a_trickled_upgrade_head_outlives_request_timeout():
    async with started_upgrade() as (reader, writer):
        await trickle(writer, 3 * REQUEST_TIMEOUT)
        with pytest.raises(TimeoutError):  # still open, nothing answered
            await asyncio.wait_for(reader.read(1), timeout=0.2)


NGINX_CONFIG = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        client_header_timeout {timeout}s;
        location = /ready {{ return 200 "ready\\n"; }}
    }}
}}
"""


@pytest.fixture
def nginx(tmp_path) -> Iterator[ServerProcess]:
    """nginx with ``client_header_timeout`` = REQUEST_TIMEOUT, as docs/deploy.md sets it."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    port = free_port()
    config = tmp_path / "nginx.conf"
    config.write_text(NGINX_CONFIG.format(dir=tmp_path, port=port, timeout=REQUEST_TIMEOUT))
    user = ["-g", "daemon off; user root;"] if os.geteuid() == 0 else ["-g", "daemon off;"]
    process = ServerProcess(["nginx", "-p", str(tmp_path), "-c", str(config), *user], port=port,
                            ready_path="/ready", name="nginx-header-timeout")
    process.start()
    try:
        yield process
    finally:
        process.kill()


async def test_nginx_client_header_timeout_closes_a_trickled_head(nginx):
    reader, writer = await asyncio.open_connection("127.0.0.1", nginx.port)
    writer.write(HEAD)
    trickling = asyncio.create_task(trickle(writer, 10 * REQUEST_TIMEOUT))
    try:
        # nginx ends the connection (no answer) while the trickle goes on.
        assert await asyncio.wait_for(reader.read(), timeout=5 * REQUEST_TIMEOUT) == b""
        assert not trickling.done() or isinstance(trickling.exception(), ConnectionError)
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)
        writer.close()
