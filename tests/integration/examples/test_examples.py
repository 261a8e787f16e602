"""Every example under the real Sanic CLI, driven by a WebSocket client as a page would."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from websockets.typing import Subprotocol

from sanic_wsns import remote, testing
from sanic_wsns.tokens import encode_token
from tests.integration.examples.conftest import START_TIMEOUT, TOKEN_SECRET
from tests.support.demo import http
from tests.support.processes import ROOT, ServerProcess
from tests.support.redis_servers import RedisServer
from tests.support.servers import wait_for
from tests.support.wsclient import close_of, open_ws

#: Clients per room in the multi-worker tests: Sanic hands connections to its workers in
#: turn, so some of them are on each worker and a frame must cross Redis to reach them.
CROWD = 8


async def start_two_workers(sanic_cli, target: str, redis_server: RedisServer, **env: str) -> ServerProcess:
    """``sanic TARGET --workers 2`` on ``redis_server``, once both workers serve (a client
    that connected earlier would reach the first one, whatever the test meant)."""
    server = sanic_cli(target, "--workers", "2", env={"SANIC_WSNS_BROKER": redis_server.url, **env})
    await wait_for(lambda: server.workers_ready() == 2, timeout=START_TIMEOUT)
    return server


async def sign_in(server: ServerProcess, name: str) -> dict[str, str]:
    """The quick start's sign-in: the ``Cookie`` header a signed-in browser sends."""
    reply = await http(server, "POST", "/sign-in", {"name": name})
    assert reply.status == 200, reply.body
    return {"Cookie": reply.headers["Set-Cookie"].split(";", 1)[0]}


async def join_all(stack: AsyncExitStack, urls: list[str],
                   headers: dict[str, str] | None = None) -> list[remote.RemoteNamespace]:
    """A client per URL (the package's own, with the test kit's timings), open, closed when
    ``stack`` exits."""
    options = {"headers": headers, **testing.TEST_CLIENT_OPTIONS}
    return [await stack.enter_async_context(remote.connect(url, **options)) for url in urls]


async def next_frame(frames: remote.FrameStream, type: str | None = None) -> remote.Frame:
    """The next frame (of ``type``, skipping others, when given), within 5 s."""
    async with asyncio.timeout(5):
        while (frame := await anext(frames))["type"] != (type or frame["type"]):
            pass
        return frame


async def chat_reaches_everyone(server: ServerProcess, room: int) -> None:
    """Signed in, one client of the quick start's ``room`` says something (as a request);
    every client hears it, the speaker too."""
    cookie = await sign_in(server, "ada")
    async with AsyncExitStack() as stack:
        clients = await join_all(stack, [server.ws(f"/ws/rooms/{room}")] * CROWD, headers=cookie)
        heard = [client.frames() for client in clients]
        assert await clients[0].request("say", {"text": "hello"}) == "ok"
        said = {"type": "said", "data": {"by": "ada", "text": "hello"}}
        assert await asyncio.gather(*(next_frame(frames) for frames in heard)) == [said] * CROWD


# -- quickstart.py ------------------------------------------------------------------------

async def test_quickstart_serves_its_page_and_the_browser_client(quickstart):
    page = await http(quickstart, "GET", "/")
    client_js = await http(quickstart, "GET", "/wsns/client.js")
    assert page.status == 200 and b'from "/wsns/client.js"' in page.body
    assert client_js.status == 200 and b"export function connect" in client_js.body


async def test_quickstart_signed_in_clients_of_a_room_hear_each_other(quickstart):
    await chat_reaches_everyone(quickstart, room=1)


async def test_quickstart_refuses_a_client_that_has_not_signed_in_with_4401(quickstart):
    async with await open_ws(quickstart.ws("/ws/rooms/1")) as ws:
        assert await close_of(ws) == (4401, "sign in first")


async def test_quickstart_sign_in_rejects_a_name_that_cannot_be_a_cookie_and_a_bad_body(quickstart):
    for body in ({"name": "a; b"}, {"name": ""}, ["ada"]):
        reply = await http(quickstart, "POST", "/sign-in", body)
        assert reply.status == 400 and "Set-Cookie" not in reply.headers, body
    assert (await http(quickstart, "POST", "/sign-in", raw=b"{not json")).status == 400


async def test_quickstart_under_two_workers_shares_rooms_through_redis(redis_server, sanic_cli):
    server = await start_two_workers(sanic_cli, "examples.quickstart:app", redis_server)
    await chat_reaches_everyone(server, room=2)


async def test_quickstart_runs_in_dev_mode(sanic_cli):
    server = sanic_cli("examples.quickstart:app", "--dev")
    await chat_reaches_everyone(server, room=3)


# -- token_auth.py ------------------------------------------------------------------------

async def fresh_token(server: ServerProcess, name: str) -> str:
    reply = await http(server, "POST", "/token", {"name": name})
    assert reply.status == 200, reply.body
    return reply.data["token"]


async def test_token_auth_admits_a_fresh_token_from_the_query_string(token_auth):
    token = await fresh_token(token_auth, "ada")
    async with AsyncExitStack() as stack:
        speaker, listener = await join_all(stack, [token_auth.ws(f"/ws/rooms/1?token={token}")] * 2)
        heard = listener.frames()
        await speaker.send("say", "hi")
        assert (await next_frame(heard, "said"))["data"] == {"by": "ada", "text": "hi"}


async def test_token_auth_refuses_a_missing_or_forged_token_with_4401(token_auth):
    _user, expires, signature = (await fresh_token(token_auth, "ada")).split(".")
    forged = f"root.{expires}.{signature}"
    for query in ("", f"?token={forged}"):
        async with await open_ws(token_auth.ws(f"/ws/rooms/1{query}")) as ws:
            assert await close_of(ws) == (4401, "invalid token")


async def test_token_auth_refuses_a_well_signed_but_expired_token_with_4401(token_auth):
    payload = f"ada.{int(time.time()) - 1}"
    digest = hmac.new(TOKEN_SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    expired = f"{payload}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
    async with await open_ws(token_auth.ws(f"/ws/rooms/1?token={expired}")) as ws:
        assert await close_of(ws) == (4401, "token expired")


async def test_token_auth_issues_no_token_for_a_name_it_cannot_hold(token_auth):
    for body in ({"name": "ada.admin"}, {}, "ada"):
        assert (await http(token_auth, "POST", "/token", body)).status == 400, body


async def test_token_auth_under_two_workers_accepts_tokens_signed_by_either(redis_server, sanic_cli):
    server = await start_two_workers(sanic_cli, "examples.token_auth:app", redis_server,
                                     SANIC_TOKEN_SECRET="test-secret")
    tokens = [await fresh_token(server, "ada") for _ in range(CROWD)]
    async with AsyncExitStack() as stack:
        crowd = await join_all(stack, [server.ws(f"/ws/rooms/4?token={t}") for t in tokens])
        heard = [client.frames() for client in crowd]
        await crowd[0].send("say", "hi")
        frames = await asyncio.gather(*(next_frame(each, "said") for each in heard))
        assert all(f["data"] == {"by": "ada", "text": "hi"} for f in frames)


# -- rest_broadcast.py --------------------------------------------------------------------

async def post_headline(server: ServerProcess, topic: str, body: Any) -> int:
    return (await http(server, "POST", f"/news/{topic}", body)).status


async def test_rest_broadcast_reaches_the_listeners_of_its_topic_only(rest_broadcast):
    async with AsyncExitStack() as stack:
        sport, weather = [client.frames() for client in await join_all(
            stack, [rest_broadcast.ws(f"/ws/news/{topic}") for topic in ("sport", "weather")])]
        assert await post_headline(rest_broadcast, "weather", {"text": "rain"}) == 202
        assert await post_headline(rest_broadcast, "sport", {"text": "a goal"}) == 202
        assert (await next_frame(sport)) == {"type": "headline", "data": {"text": "a goal"}}
        assert (await next_frame(weather)) == {"type": "headline", "data": {"text": "rain"}}


async def test_rest_broadcast_answers_a_bad_body_with_400(rest_broadcast):
    assert await post_headline(rest_broadcast, "sport", {"txt": "typo"}) == 400
    assert await post_headline(rest_broadcast, "sport", ["not", "an", "object"]) == 400


async def test_rest_broadcast_under_two_workers_reaches_listeners_on_both(redis_server, sanic_cli):
    server = await start_two_workers(sanic_cli, "examples.rest_broadcast:app", redis_server)
    async with AsyncExitStack() as stack:
        heard = [client.frames() for client in await join_all(stack, [server.ws("/ws/news/sport")] * CROWD)]
        assert await post_headline(server, "sport", {"text": "a goal"}) == 202
        frames = await asyncio.gather(*(next_frame(each) for each in heard))
        assert all(f == {"type": "headline", "data": {"text": "a goal"}} for f in frames)


async def test_a_worker_task_s_headline_reaches_listeners_on_both_workers(redis_server, sanic_cli):
    server = await start_two_workers(sanic_cli, "examples.rest_broadcast:app", redis_server)
    async with AsyncExitStack() as stack:
        heard = [client.frames() for client in await join_all(stack, [server.ws("/ws/news/sport")] * CROWD)]
        task = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "examples.worker_task", "sport", "from a worker", cwd=ROOT,
            env={**os.environ, "SANIC_WSNS_BROKER": redis_server.url})
        assert await asyncio.wait_for(task.wait(), START_TIMEOUT) == 0
        frames = await asyncio.gather(*(next_frame(each) for each in heard))
        assert all(f == {"type": "headline", "data": {"text": "from a worker"}} for f in frames)


async def test_a_token_in_the_upgrade_url_never_reaches_the_access_log(sanic_cli):
    server = sanic_cli("examples.token_auth:app", "--access-logs", env={"SANIC_TOKEN_SECRET": "log-test"})
    token = await fresh_token(server, "ada")
    async with AsyncExitStack() as stack:
        await join_all(stack, [server.ws(f"/ws/rooms/1?token={token}")])
    await wait_for(lambda: "ws/rooms/1?token=" in server.log_path.read_text(errors="replace"),
                   timeout=10)
    log = server.log_path.read_text(errors="replace")
    assert token not in log and "token=…" in log


async def test_a_subprotocol_token_never_reaches_the_access_log_nor_our_logs(sanic_cli):
    server = sanic_cli("examples.token_auth:app", "--access-logs", "--debug",
                       env={"SANIC_TOKEN_SECRET": "log-test"})
    token = await fresh_token(server, "ada")
    expired = f"ada.1.{token.rsplit('.', 1)[1]}"  # refused: its refusal is logged
    async with remote.connect(server.ws("/ws/rooms/1"), token=token) as room:
        await room.request("say", "hi")
    for refused in (expired, "\x00not-base64"):
        offered = [Subprotocol("wsns.v1"), Subprotocol(encode_token(refused))]
        async with await open_ws(server.ws("/ws/rooms/1"), subprotocols=offered) as ws:
            assert (await close_of(ws))[0] == 4401
    await wait_for(lambda: server.log_path.read_text(errors="replace").count("ws/rooms/1") >= 6,
                   timeout=10)
    log = server.log_path.read_text(errors="replace")
    assert "upgrade refused" in log  # our own lines are in this log too
    for secret in (token, expired, encode_token(token), encode_token(expired)):
        assert secret not in log


async def test_the_extensions_info_lines_show_through_sanics_logging(quickstart):
    """Under the CLI, with no logging set up by the app, sanic-wsns's lines come out
    through Sanic's handlers like Sanic's own: its info lines too (a logger without a
    handler would drop them)."""
    log = quickstart.log_path
    await wait_for(lambda: "sanic-wsns started" in log.read_text(errors="replace"), timeout=10)
    started = next(line for line in log.read_text(errors="replace").splitlines()
                   if "sanic-wsns started" in line)
    assert "INFO" in started, started  # Sanic's format names the level; a bare line would not
