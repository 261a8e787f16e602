"""The token travels in ``Sec-WebSocket-Protocol`` (core idea 15): the server answers
``wsns.v1``, ``authorize`` reads ``request.ctx.wsns_token``, a malformed one is 4401."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.typing import Subprotocol

from sanic_wsns import Identity, Unauthorized, WsNamespaces
from sanic_wsns.tokens import PROTOCOL, encode_token
from tests.support.servers import new_app, serve
from tests.support.wsclient import close_of, join, open_ws

TOKEN = "ann.s3cret/+=token"


def offer(token: str | None) -> list[Subprotocol]:
    return [Subprotocol(PROTOCOL)] + ([Subprotocol(encode_token(token))] if token else [])


@pytest.fixture
async def tokens():
    """An app whose authorize admits ``TOKEN`` and records what it saw."""
    app = new_app()
    wsns = WsNamespaces(app)
    rooms = wsns.pattern("/ws/rooms/<room:int>")
    seen: list[dict[str, Any]] = []

    @rooms.authorize
    def check(request, room):
        seen.append({"token": request.ctx.wsns_token, "headers": dict(request.headers)})
        if room == 0:
            return None
        if request.ctx.wsns_token != TOKEN:
            raise Unauthorized("bad token")
        return Identity("ann", user="ann")

    async with serve(app) as server:
        yield server, seen


async def test_the_token_reaches_authorize_and_the_server_answers_wsns_v1(tokens):
    server, seen = tokens
    ws, _ = await join(server.ws("/ws/rooms/1"), subprotocols=offer(TOKEN))
    assert ws.subprotocol == PROTOCOL
    assert seen[-1]["token"] == TOKEN
    assert all(TOKEN not in value and "wsns.token." not in value
               for value in seen[-1]["headers"].values())
    await ws.close()


async def test_a_client_offering_no_subprotocol_is_served_without_one(tokens):
    server, seen = tokens
    ws, _ = await join(server.ws("/ws/rooms/0"))
    assert ws.subprotocol is None and seen[-1]["token"] is None
    await ws.close()


async def test_wsns_v1_alone_is_answered_and_means_no_token(tokens):
    server, seen = tokens
    ws, _ = await join(server.ws("/ws/rooms/0"), subprotocols=offer(None))
    assert ws.subprotocol == PROTOCOL and seen[-1]["token"] is None
    await ws.close()


@pytest.mark.parametrize("bad", ["wsns.token.", "wsns.token.a", "wsns.token._w", "wsns.token.a!b"])
async def test_a_malformed_token_is_refused_with_4401_before_authorize_runs(tokens, bad):
    server, seen = tokens
    ws = await open_ws(server.ws("/ws/rooms/1"), subprotocols=[Subprotocol(PROTOCOL), Subprotocol(bad)])
    assert ws.subprotocol == PROTOCOL  # the browser learns why: the handshake completes
    code, reason = await close_of(ws)
    assert code == 4401 and reason is not None and reason.startswith("malformed token")
    assert seen == []


async def test_a_wrong_token_is_the_authorize_hooks_refusal(tokens):
    server, _ = tokens
    ws = await open_ws(server.ws("/ws/rooms/1"), subprotocols=offer("someone-else"))
    assert await close_of(ws) == (4401, "bad token")


async def test_an_unmatched_path_still_answers_wsns_v1_so_the_browser_reads_its_close(tokens):
    server, _ = tokens
    ws = await open_ws(server.ws("/ws/rooms/abc"), subprotocols=offer(TOKEN))
    assert ws.subprotocol == PROTOCOL
    assert (await close_of(ws))[0] == 1008
