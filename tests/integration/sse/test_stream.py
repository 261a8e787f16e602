"""The SSE stream on ``memory://``: the same admission, the same frames, as events
(core idea 13). One instance; two instances and recovery are in test_instances.py."""

from __future__ import annotations

import asyncio

from tests.support.core_app import build_app
from tests.support.servers import serve, wait_for
from tests.support.sse_reader import open_stream, post_frame
from tests.support.wsclient import join, recv_json

SSE = "/wsns/sse"


async def test_the_first_event_is_the_welcome_with_a_client_token_and_frames_follow_as_events(core) -> None:
    srv, wsns, _ = core
    stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby")
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
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
