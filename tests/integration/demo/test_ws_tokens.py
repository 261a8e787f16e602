"""The page's WebSocket tokens: fetched with the session cookie, offered in
``Sec-WebSocket-Protocol``, good for a short grant that the client refreshes; a session
that ends gets no new grant (demo_app/ws_tokens.py, realtime.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from demo_app.sessions import COOKIE
from demo_app.store import users
from demo_app.ws_tokens import WsTokens
from sanic_wsns import remote
from sanic_wsns.tokens import PROTOCOL, encode_token
from tests.support.demo import TIMEOUT, TokenRefused, User, http, map_url, running_demo, sign_in, wait_closed
from tests.support.servers import RunningServer
from tests.support.wsclient import recv_json

#: The grant of the short-lived demo: long enough for a loaded machine to connect within it.
BRIEF_S = 2.0


def offering(token: str) -> dict[str, Any]:
    return {"subprotocols": [Subprotocol(PROTOCOL), Subprotocol(encode_token(token))],
            "open_timeout": TIMEOUT, "close_timeout": 1}


async def close_code_with(server: RunningServer, map_id: int, token: str) -> int | None:
    async with connect(map_url(server, map_id), **offering(token)) as ws:
        return await wait_closed(ws)


@pytest.fixture
async def brief(tmp_path) -> AsyncIterator[RunningServer]:
    """A demo whose WebSocket grants last ``BRIEF_S`` seconds."""
    async with running_demo(tmp_path / "db.sqlite", ws_token_lifetime=BRIEF_S) as server:
        yield server


class Tokens:
    """A ``token`` function that counts its calls and lets a test wait for the n-th."""

    def __init__(self, user: User):
        self.user = user
        self.calls = 0
        self._called = asyncio.Condition()

    async def __call__(self) -> str:
        token = await self.user.ws_token()
        async with self._called:
            self.calls += 1
            self._called.notify_all()
        return token

    async def wait(self, calls: int, timeout: float) -> None:
        async with asyncio.timeout(timeout), self._called:
            await self._called.wait_for(lambda: self.calls >= calls)


# -- the token endpoint ---------------------------------------------------------------------

async def test_a_signed_in_page_gets_a_token_for_a_five_minute_grant_kept_by_no_cache(ann):
    reply = await ann.call("POST", "/api/1/session/ws-token")
    assert reply.status == 200
    assert 299 < reply.data["expires_in"] <= 300
    assert reply.headers["Cache-Control"] == "no-store"


async def test_without_a_session_there_is_no_token(demo, ann):
    assert (await http(demo, "POST", "/api/1/session/ws-token")).status == 401
    assert (await ann.call("DELETE", "/api/1/session")).status == 204
    with pytest.raises(TokenRefused):
        await ann.ws_token()


# -- what a token opens ----------------------------------------------------------------------

async def test_a_token_alone_opens_a_map_and_the_welcome_says_when_the_grant_ends(demo, ann):
    created = await ann.create_map()
    async with connect(map_url(demo, created["id"]), **offering(await ann.ws_token())) as ws:
        assert ws.subprotocol == PROTOCOL
        welcome = await recv_json(ws)
        assert welcome["type"] == "welcome" and 290 < welcome["data"]["expires_in"] <= 300
        assert (await recv_json(ws))["type"] in ("snapshot", "presence_state")


async def test_a_socket_opened_with_the_cookie_gets_the_same_grant(demo, ann):
    created = await ann.create_map()
    async with connect(map_url(demo, created["id"]), additional_headers={"Cookie": ann.cookie},
                       open_timeout=TIMEOUT, close_timeout=1) as ws:
        assert 290 < (await recv_json(ws))["data"]["expires_in"] <= 300


@pytest.mark.parametrize("damage", ["signature", "expiry", "cookie", "garbage"])
async def test_a_forged_or_damaged_token_is_4401(demo, ann, damage):
    created = await ann.create_map()
    token = await ann.ws_token()
    session_id, expires_ms, signature = token.split(".")
    damaged = {
        "signature": f"{session_id}.{expires_ms}.{signature[::-1]}",
        "expiry": f"{session_id}.{int(expires_ms) + 3_600_000}.{signature}",
        "cookie": ann.cookie.removeprefix(f"{COOKIE}="),  # a cookie's signature is not a token's
        "garbage": "not a token",
    }[damage]
    assert await close_code_with(demo, created["id"], damaged) == 4401


async def test_a_token_of_an_ended_session_is_4401(demo, ann):
    created = await ann.create_map()
    token = await ann.ws_token()
    assert (await ann.call("DELETE", "/api/1/session")).status == 204
    assert await close_code_with(demo, created["id"], token) == 4401


def test_a_token_past_its_end_or_signed_with_another_secret_is_not_valid():
    tokens = WsTokens("one secret", lifetime=60)
    token, grant = tokens.issue("abc", now=1000.0)
    assert tokens.verify(token, now=1059.9) == grant
    assert tokens.verify(token, now=1060.0) is None
    assert WsTokens("another secret", lifetime=60).verify(token, now=1000.0) is None


# -- expiry and refresh (2 s grants) ----------------------------------------------------------

async def test_a_socket_that_does_not_refresh_is_closed_with_4001_when_its_grant_ends(brief):
    ann = await sign_in(brief, "ann")
    created = await ann.create_map()
    async with connect(map_url(brief, created["id"]), **offering(await ann.ws_token())) as ws:
        code = await asyncio.wait_for(wait_closed(ws), BRIEF_S + TIMEOUT)
    assert code == 4001


async def test_a_client_that_refreshes_stays_on_one_connection_past_several_grants(brief):
    ann = await sign_in(brief, "ann")
    created = await ann.create_map()
    tokens, opens = Tokens(ann), []
    async with remote.connect(map_url(brief, created["id"]), token=tokens) as ns:
        ns.on("state", lambda state, ending: opens.append(state) if state is remote.State.OPEN else None)
        await tokens.wait(4, timeout=4 * BRIEF_S + TIMEOUT)  # the upgrade's, then three refreshes'
        bubble = {"x": 1, "y": 1, "text": "still here", "color": "#000000"}
        assert (await ns.request("bubble-create", bubble))["text"] == "still here"
        assert ns.state is remote.State.OPEN and opens == [], "the connection was replaced"


async def test_a_session_ended_without_a_disconnect_loses_its_sockets_at_the_next_refresh(brief):
    """What bounds a lost ``disconnect`` (broker away): every refresh checks the session,
    even for a client that still holds well-signed tokens."""
    ann = await sign_in(brief, "ann")
    created = await ann.create_map()
    session_id = ann.cookie.removeprefix(f"{COOKIE}=").split(".")[0]

    async def signed_but_stale() -> str:
        return brief.app.ctx.ws_tokens.issue(session_id, time.time())[0]

    async with remote.connect(map_url(brief, created["id"]), token=signed_but_stale) as ns:
        await brief.app.ctx.store.write(users.close_session, session_id)  # no sign-out request: no disconnect
        ending = await asyncio.wait_for(ns.wait_closed(), BRIEF_S + TIMEOUT)
    assert ns.state is remote.State.DENIED and ending.code == 4401, ending
