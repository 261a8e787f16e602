"""The SSE stream on ``memory://``: the same admission, the same frames, as events
(core idea 13). One instance; two instances and recovery are in test_instances.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sanic import Request, Sanic

from sanic_wsns import Identity, Unauthorized, WsNamespaces
from sanic_wsns.tokens import encode_token
from tests.support.core_app import build_app
from tests.support.demo import http
from tests.support.servers import new_app, serve, wait_for
from tests.support.sse_reader import open_stream, post_frame
from tests.support.wsclient import join, recv_json

SSE = "/wsns/sse"


async def test_the_first_event_is_the_welcome_with_a_client_token_and_frames_follow_as_events(core) -> None:
    srv, wsns, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["x-accel-buffering"] == "no"
    welcome = await stream.next()
    assert welcome.type == "welcome"
    data = welcome.frame["data"]
    assert data["path"] == "/ws/open/lobby" and data["client_token"].startswith(data["client_id"] + ".")
    ws, _ = await join(srv.ws("/ws/open/lobby"))
    await ws.send('{"type":"say","data":"hi\\nthere"}')
    said = await stream.next()
    assert said.type == "said" and said.id is None  # no history: no offset, no id
    assert said.data == '{"type":"said","data":"hi\\nthere"}'  # the WebSocket's bytes
    assert wsns.stats()["totals"]["clients"] == 2
    await stream.close()
    await ws.close()
    await wait_for(lambda: wsns.stats()["totals"]["clients"] == 0)


async def test_refusals_are_http_errors_with_a_code(core) -> None:
    srv, _, _ = core
    for room, status, code in ((401, 401, "unauthenticated"), (403, 403, "forbidden"),
                               (404, 404, "not_found")):
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/sync/{room}")
        assert stream.status == status
        assert stream.json == {"code": code, "message": f"room {room} says no"}
        await stream.close()
    foreign = await open_stream(srv.host, srv.port, f"{SSE}/ws/sync/1",
                                {"Origin": "https://evil.example"})
    assert (foreign.status, foreign.json["code"]) == (403, "forbidden")
    await foreign.close()


async def test_a_connection_cap_refuses_a_stream_with_503() -> None:
    app, _, _ = build_app(max_connections=1)
    async with serve(app) as srv:
        first = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/a")
        await first.next()
        second = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/a")
        assert (second.status, second.json["code"]) == (503, "over_capacity")
        assert second.headers["retry-after"] == "1"
        await first.close()
        await second.close()


async def test_a_post_is_handled_by_the_pattern_handler_and_answers_reply_and_frames(core) -> None:
    srv, _, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
    token = (await stream.next()).frame["data"]["client_token"]
    answer = await post_frame(srv, f"{SSE}/ws/open/lobby",
                              {"type": "big-to-me", "data": 3, "id": 7}, token)
    assert answer.status == 200
    assert answer.data == {"reply": {"type": "reply", "data": None, "id": 7},
                           "frames": [{"type": "big", "data": "xxx"}]}
    added = await post_frame(srv, f"{SSE}/ws/open/lobby", {"type": "add", "data": {"a": 1, "b": 2},
                                                           "id": 8}, token)
    assert added.data == {"reply": {"type": "reply", "data": 3, "id": 8}, "frames": []}
    assert (await stream.next()).frame == {"type": "added", "data": 3}  # the broadcast, on the stream
    await stream.close()


async def test_a_post_without_a_valid_client_token_is_refused(core) -> None:
    srv, _, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/user/1?user=ann")
    token = (await stream.next()).frame["data"]["client_token"]
    frame = {"type": "whoami", "id": 1}
    missing = await post_frame(srv, f"{SSE}/ws/user/1?user=ann", frame, None)
    forged = await post_frame(srv, f"{SSE}/ws/user/1?user=ann", frame, token.split(".")[0] + ".AAAA")
    other_user = await post_frame(srv, f"{SSE}/ws/user/1?user=bob", frame, token)
    other_room = await post_frame(srv, f"{SSE}/ws/user/2?user=ann", frame, token)
    for refused in (missing, forged, other_user, other_room):
        assert (refused.status, refused.data["code"]) == (403, "forbidden")
    mine = await post_frame(srv, f"{SSE}/ws/user/1?user=ann", frame, token)
    assert mine.data["reply"]["data"]["id"] == token.split(".")[0]
    await stream.close()


async def test_exclude_client_in_a_post_excludes_the_stream(core) -> None:
    srv, _, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
    token = (await stream.next()).frame["data"]["client_token"]
    ws, _ = await join(srv.ws("/ws/open/lobby"))
    answer = await post_frame(srv, f"{SSE}/ws/open/lobby", {"type": "say", "data": "mine"}, token)
    assert answer.data == {"reply": None, "frames": []}
    assert await recv_json(ws) == {"type": "said", "data": "mine"}
    await ws.send('{"type":"say","data":"theirs"}')
    assert (await stream.next()).frame == {"type": "said", "data": "theirs"}  # "mine" never came
    await ws.close()
    await stream.close()


async def test_a_bad_post_body_gets_an_error_frame_never_a_5xx(core) -> None:
    srv, _, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
    token = (await stream.next()).frame["data"]["client_token"]
    path = f"{SSE}/ws/open/lobby"
    for body in (b"not json", b"\xff\xfe", b"[1,2]", b'{"type":"nope","id":1}'):
        answer = await post_frame(srv, path, body, token)
        assert answer.status == 200 and answer.data["reply"]["type"] == "error", body
    too_big = await post_frame(srv, path, b'{"type":"say","data":"' + b"x" * 70_000 + b'"}', token)
    assert (too_big.status, too_big.data["code"]) == (413, "too_big")
    await stream.close()


async def test_removing_the_namespace_ends_the_stream_with_a_close_event(core) -> None:
    srv, _, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/async/1")
    await stream.next()
    await post_frame(srv, "/remove/1", {}, None)
    events = await stream.ended()
    assert [e.type for e in events] == ["close"]
    assert events[0].frame["data"] == {"code": 4410, "reason": "room deleted"}


async def test_a_ping_comment_comes_every_heartbeat() -> None:
    app, _, _ = build_app()
    app.config.WEBSOCKET_PING_INTERVAL = 0.2
    async with serve(app) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
        await stream.next()
        assert await stream.comment(timeout=2) == "ping"
        await stream.close()
        await asyncio.sleep(0)


async def test_metrics_count_connections_by_transport() -> None:
    app, _, _ = build_app(metrics_url="/metrics")
    async with serve(app) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
        await stream.next()
        ws, _ = await join(srv.ws("/ws/open/lobby"))
        text = (await http(srv, "GET", "/metrics")).body.decode()
        assert 'wsns_transport_connections{transport="sse"} 1.0' in text
        assert 'wsns_transport_connections{transport="websocket"} 1.0' in text
        assert 'wsns_connections{pattern="/ws/open/<name:str>"} 2.0' in text
        await stream.close()
        await ws.close()


def token_app(**settings: Any) -> Sanic:
    """One pattern admitting a bearer token ``user:<name>`` (presence on), an ``echo``
    handler."""
    app = new_app()
    wsns = WsNamespaces(app, unsubscribe_linger=0, **settings)
    rooms = wsns.pattern("/rooms/<room:int>", presence=True)

    @rooms.authorize
    def by_token(request: Request, room: int) -> Identity:
        token = request.ctx.wsns_token
        if not token or not token.startswith("user:"):
            raise Unauthorized("no token")
        name, _, lasts = token.removeprefix("user:").partition(":")
        expires_at = time.time() + float(lasts) if lasts else None
        return Identity(name, {"name": name}, expires_at=expires_at)

    @rooms.on("echo")
    def echo(ns: Any, client: Any, data: Any) -> Any:
        return {"data": data, "user": client.user}

    return app


async def test_the_token_comes_from_authorization_bearer_for_streams_and_posts() -> None:
    async with serve(token_app()) as srv:
        refused = await open_stream(srv.host, srv.port, f"{SSE}/rooms/1")
        assert (refused.status, refused.json["code"]) == (401, "unauthenticated")
        await refused.close()
        bearer = {"Authorization": "Bearer user:ann"}
        stream = await open_stream(srv.host, srv.port, f"{SSE}/rooms/1", bearer)
        welcome = (await stream.next()).frame["data"]
        assert welcome["public"] == {"name": "ann"}
        frame = {"type": "echo", "data": 1, "id": 1}
        answer = await post_frame(srv, f"{SSE}/rooms/1", frame, welcome["client_token"], bearer)
        assert answer.data["reply"]["data"] == {"data": 1, "user": "ann"}
        anonymous = await post_frame(srv, f"{SSE}/rooms/1", frame, welcome["client_token"])
        assert anonymous.status == 401
        malformed = await open_stream(srv.host, srv.port, f"{SSE}/rooms/1", {"Authorization": "Bearer "})
        assert (malformed.status, malformed.json["code"]) == (401, "unauthenticated")
        await malformed.close()
        await stream.close()


async def test_a_stream_is_in_presence_like_any_client() -> None:
    async with serve(token_app()) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/rooms/2", {"Authorization": "Bearer user:ann"})
        welcome = (await stream.next()).frame["data"]
        state = await stream.until("presence_state")
        assert state.frame["data"] == {welcome["client_id"]: {"name": "ann"}}
        ws, bob = await join(srv.ws("/rooms/2"), subprotocols=["wsns.v1", encode_token("user:bob")])
        seen = await recv_json(ws)
        assert seen["type"] == "presence_state"
        assert set(seen["data"]) == {welcome["client_id"], bob["client_id"]}
        joined = await stream.until("presence_diff")
        assert joined.frame["data"]["joins"] == {bob["client_id"]: {"name": "bob"}}
        await stream.close()
        left = await recv_json(ws)
        assert left["data"]["leaves"] == {welcome["client_id"]: {"name": "ann"}}
        await ws.close()


async def test_posts_over_the_rate_limit_are_answered_rate_limited() -> None:
    async with serve(token_app(rate_limit=0.001, rate_burst=2)) as srv:
        bearer = {"Authorization": "Bearer user:ann"}
        stream = await open_stream(srv.host, srv.port, f"{SSE}/rooms/3", bearer)
        token = (await stream.next()).frame["data"]["client_token"]
        answers = [await post_frame(srv, f"{SSE}/rooms/3", {"type": "echo", "data": n, "id": n}, token,
                                    bearer) for n in range(1, 4)]
        assert [a.data["reply"]["type"] for a in answers] == ["reply", "reply", "error"]
        assert answers[2].data["reply"]["data"]["code"] == "rate_limited"
        await stream.close()


async def test_a_post_that_keeps_going_after_rate_limited_is_refused_with_429() -> None:
    async with serve(token_app(rate_limit=0.001, rate_burst=1, abuse_limit=2)) as srv:
        bearer = {"Authorization": "Bearer user:ann"}
        stream = await open_stream(srv.host, srv.port, f"{SSE}/rooms/4", bearer)
        token = (await stream.next()).frame["data"]["client_token"]
        statuses = [(await post_frame(srv, f"{SSE}/rooms/4", {"type": "echo"}, token, bearer)).status
                    for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]  # one allowed, two told, then refused
        await stream.close()


async def test_what_a_post_handler_sends_its_client_is_bounded_by_the_send_queue() -> None:
    app, _, _ = build_app(max_send_queue=1000)
    async with serve(app) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/q")
        token = (await stream.next()).frame["data"]["client_token"]
        small = await post_frame(srv, f"{SSE}/ws/open/q", {"type": "big-to-me", "data": 10, "id": 1}, token)
        assert len(small.data["frames"]) == 1
        big = await post_frame(srv, f"{SSE}/ws/open/q", {"type": "big-to-me", "data": 5000, "id": 2}, token)
        assert big.data == {"reply": {"type": "reply", "data": None, "id": 2}, "frames": []}
        await stream.close()


async def test_streams_are_held_to_the_connect_rate_and_the_path_bounds() -> None:
    app, _, _ = build_app(connect_rate=0.001, connect_burst=1)
    async with serve(app) as srv:
        first = await open_stream(srv.host, srv.port, f"{SSE}/ws/user/1?user=ann")
        await first.next()
        second = await open_stream(srv.host, srv.port, f"{SSE}/ws/user/1?user=ann")
        assert (second.status, second.json["code"]) == (503, "over_capacity")
        assert second.json["message"].startswith("too many connections per second")
        long = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/{'x' * 201}")
        assert (long.status, long.json["code"]) == (400, "bad_request")
        for stream in (first, second, long):
            await stream.close()


async def test_disconnect_by_user_and_expiry_end_the_stream_with_their_codes() -> None:
    app = token_app()
    async with serve(app) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/rooms/5", {"Authorization": "Bearer user:ann"})
        await stream.next()
        await app.ctx.wsns.disconnect(user="ann", reason="signed out")
        ended = await stream.ended()
        assert ended[-1].type == "close" and ended[-1].frame["data"] == {"code": 4401, "reason": "signed out"}
        short = await open_stream(srv.host, srv.port, f"{SSE}/rooms/5",
                                  {"Authorization": "Bearer user:bob:0.3"})
        assert "expires_in" in (await short.next()).frame["data"]
        ended = await short.ended()
        assert ended[-1].frame["data"]["code"] == 4001


async def test_a_stream_outlives_sanics_response_timeout_with_no_heartbeat_set() -> None:
    app, wsns, _ = build_app()
    app.config.WEBSOCKET_PING_INTERVAL = 0
    app.config.RESPONSE_TIMEOUT = 0.4
    async with serve(app) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/long")
        await stream.next()
        for _ in range(4):  # 4 pings at most 0.2 s apart: well past the 0.4 s timeout
            assert await stream.comment(timeout=2) == "ping"
        await wsns.broadcast("/ws/open/long", "still", "here")
        assert (await stream.until("still")).frame["data"] == "here"
        await stream.close()
