"""What an operator and a browser see around the connections: the client file answers
HEAD as well as GET, and a cross-origin refusal's log line says which origin it was."""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from email.message import Message

import pytest

from tests.support.wsclient import close_of, open_ws


def head(url: str) -> tuple[int, Message, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as response:
        return response.status, response.headers, response.read()


@pytest.mark.parametrize("path", ["/wsns/client.js", "/wsns/client.d.ts"])
async def test_head_on_the_client_files_answers_like_get_without_a_body(core, path):
    server, _, _ = core
    status, headers, body = await asyncio.to_thread(head, server.http + path)
    assert status == 200 and body == b""
    assert headers["ETag"]
    assert headers["Content-Type"].startswith(("text/javascript", "application/typescript"))
    assert int(headers["Content-Length"]) > 1000


@pytest.mark.parametrize("origin, logged", [
    ("http://evil.example", "origin='http://evil.example'"),
    ("http://evil.example/" + "x" * 300, "origin='http://evil.example/" + "x" * 80 + "'..."),
])
async def test_a_cross_origin_refusal_logs_the_origin_quoted_and_cut(core, caplog, origin, logged):
    server, _, _ = core
    caplog.set_level(logging.INFO, "sanic_wsns")
    ws = await open_ws(server.ws("/ws/async/1"), origin=origin)
    assert await close_of(ws) == (4403, "origin not allowed")
    [line] = [r.getMessage() for r in caplog.records if "upgrade refused" in r.getMessage()]
    assert line.endswith(f"reason=origin not allowed {logged}")
