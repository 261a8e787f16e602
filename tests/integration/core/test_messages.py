"""Messages: request/reply correlation, and every bad input answered without harm."""

import asyncio
import json

import pytest

from sanic_wsns import CloseCode
from tests.support.core_app import build_app
from tests.support.servers import serve, wait_for
from tests.support.wsclient import close_of, join, recv_json, request


async def still_works(ws) -> None:
    """The connection survived: a ping is still answered."""
    await ws.send('{"type": "ping", "data": "alive", "id": 99}')
    assert await recv_json(ws) == {"type": "pong", "data": "alive", "id": 99}


async def test_a_request_gets_its_reply_with_the_same_id(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/r"))
    await ws.send(json.dumps({"type": "add", "data": {"a": 2, "b": 3}, "id": 41}))
    assert await recv_json(ws) == {"type": "added", "data": 5}
    assert await recv_json(ws) == {"type": "reply", "data": 5, "id": 41}
    await ws.close()


async def test_interleaved_requests_are_each_answered_exactly_once(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/r"))
    for i in range(1, 21):
        kind = ["whoami", "conflict", "boom", "nope"][i % 4]
        await ws.send(json.dumps({"type": kind, "data": None, "id": i}))
    answers = [await recv_json(ws) for _ in range(20)]
    assert sorted(a["id"] for a in answers) == list(range(1, 21))
    by_id = {a["id"]: a for a in answers}
    assert by_id[4]["type"] == "reply"
    assert by_id[1]["data"]["code"] == "conflict" and by_id[1]["data"]["details"] == {"version": 2}
    assert by_id[2]["data"]["code"] == "internal"
    assert by_id[3]["data"]["code"] == "unknown_type"
    await ws.close()


async def test_a_fire_and_forget_message_gets_no_reply(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/r"))
    await ws.send(json.dumps({"type": "whoami"}))
    await still_works(ws)  # the pong is the very next frame: no reply came before it
    await ws.close()


@pytest.mark.parametrize("frame, fragment", [
    ("not json at all", "not valid JSON"),
    ("[1, 2, 3]", "object"),
    ('"just a string"', "object"),
    ("{}", "type"),
    ('{"data": 1}', "type"),
    ('{"type": 7}', "str"),
    ('{"type": null}', "str"),
    ('{"type": "add", "id": 0}', "id"),
    ('{"type": "add", "id": -1}', "id"),
    ('{"type": "add", "id": "7"}', "id"),
    ('{"type": "add", "id": 1.5}', "id"),
    pytest.param('{"type": "add", "data": ' + "[" * 1000 + "]" * 1000 + "}", "nest", id="nested-1000"),
])
async def test_a_malformed_frame_gets_invalid_message_and_the_connection_stays_open(core, frame, fragment):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/bad"))
    await ws.send(frame)
    answer = await recv_json(ws)
    assert answer["type"] == "error" and "id" not in answer
    assert answer["data"]["code"] == "invalid_message" and fragment in answer["data"]["message"]
    await still_works(ws)
    await ws.close()


async def test_a_binary_frame_gets_invalid_message(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/bad"))
    await ws.send(b'{"type": "whoami", "id": 1}')
    answer = await recv_json(ws)
    assert answer["data"]["code"] == "invalid_message" and "binary" in answer["data"]["message"]
    await still_works(ws)
    await ws.close()


async def test_an_unknown_type_gets_unknown_type_with_the_id(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/bad"))
    answer = await request(ws, "no-such-type", {}, id=5)
    assert answer["id"] == 5 and answer["data"]["code"] == "unknown_type"
    await still_works(ws)
    await ws.close()


@pytest.mark.parametrize("type_", ["welcome", "reply", "error", "resync", "pong"])
async def test_server_reserved_types_sent_by_a_client_are_unknown(core, type_):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/bad"))
    assert (await request(ws, type_, {}, id=2))["data"]["code"] == "unknown_type"
    await ws.close()


@pytest.mark.parametrize("data", [None, {"a": 1}, {"a": "1", "b": 2}, [1, 2], {"a": 1.5, "b": 2}])
async def test_data_failing_validation_gets_invalid_data_saying_where(core, data):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/bad"))
    answer = await request(ws, "add", data, id=3)
    assert answer["id"] == 3 and answer["data"]["code"] == "invalid_data"
    assert answer["data"]["message"]
    await still_works(ws)
    await ws.close()


async def test_a_failing_fire_and_forget_message_gets_an_error_without_id(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/bad"))
    await ws.send('{"type": "add", "data": "wrong"}')
    answer = await recv_json(ws)
    assert answer["type"] == "error" and "id" not in answer and answer["data"]["code"] == "invalid_data"
    await ws.send('{"type": "boom"}')
    answer = await recv_json(ws)
    assert "id" not in answer and answer["data"]["code"] == "internal"
    await ws.close()


async def test_a_handler_that_raises_answers_internal_and_others_are_unaffected(core, caplog):
    server, _, _ = core
    a, _ = await join(server.ws("/ws/open/crash"))
    b, _ = await join(server.ws("/ws/open/crash"))
    answer = await request(a, "boom", None, id=8)
    assert answer == {"type": "error", "data": {"code": "internal", "message": "internal server error"},
                      "id": 8}
    assert "handler bug" not in json.dumps(answer)
    assert "handler failed" in caplog.text
    await a.send('{"type": "add", "data": {"a": 1, "b": 1}}')
    assert await recv_json(b) == {"type": "added", "data": 2}
    await a.close()
    await b.close()


async def test_an_oversize_frame_closes_with_1009_and_others_carry_on():
    app, _, _ = build_app(max_frame_size=1024)
    async with serve(app) as server:
        a, _ = await join(server.ws("/ws/open/big"))
        b, _ = await join(server.ws("/ws/open/big"))
        await a.send(json.dumps({"type": "say", "data": "x" * 2000}))
        assert (await close_of(a))[0] == CloseCode.TOO_BIG == 1009
        await b.send(json.dumps({"type": "add", "data": {"a": 1, "b": 2}, "id": 1}))
        assert (await recv_json(b))["type"] == "added"
        await b.close()


async def test_a_flood_past_the_rate_limit_is_answered_rate_limited_with_ids_and_a_retry_hint():
    app, _, _ = build_app(rate_limit=1, rate_burst=5)
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/flood"))
        other, _ = await join(server.ws("/ws/open/flood"))
        for i in range(1, 11):
            await ws.send(json.dumps({"type": "whoami", "id": i}))
        answers = [await recv_json(ws) for _ in range(10)]
        replies = [a for a in answers if a["type"] == "reply"]
        limited = [a for a in answers if a["type"] == "error"]
        assert [a["id"] for a in replies] == [1, 2, 3, 4, 5]
        assert [a["id"] for a in limited] == [6, 7, 8, 9, 10]
        assert all(a["data"]["code"] == "rate_limited" and a["data"]["details"]["retry_after"] > 0
                   for a in limited)
        assert (await request(other, "whoami", id=1))["type"] == "reply"  # others unaffected
        await ws.close()
        await other.close()


async def test_a_client_that_keeps_flooding_after_being_told_is_closed_with_1008():
    app, wsns, _ = build_app(rate_limit=1, rate_burst=2, abuse_limit=20)
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/abuse"))
        other, _ = await join(server.ws("/ws/open/abuse"))
        for _ in range(40):
            await ws.send('{"type": "whoami"}')
        assert (await close_of(ws))[0] == 1008
        assert (await request(other, "whoami", id=1))["type"] == "reply"
        assert wsns.stats()["totals"]["dropped"]["rate_limited"] >= 20
        await other.close()


async def test_ping_is_answered_by_pong_with_the_same_data(core):
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/p"))
    await ws.send('{"type": "ping", "data": {"t": 123}}')
    assert await recv_json(ws) == {"type": "pong", "data": {"t": 123}}
    await ws.close()


async def test_a_sync_handler_may_return_the_reply(core):
    server, _, _ = core
    ws, welcome = await join(server.ws("/ws/open/s"))
    reply = await request(ws, "whoami", id=1)
    assert reply["data"]["id"] == welcome["client_id"]
    await ws.close()


async def test_unencodable_reply_is_an_internal_error():
    app, wsns, _ = build_app()
    odd = wsns.pattern("/ws/odd")

    @odd.on("odd")
    def odd_handler(ns, client):
        return object()

    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/odd"))
        assert (await request(ws, "odd", id=4))["data"]["code"] == "internal"
        await asyncio.wait_for(ws.close(), 5)


async def test_a_slow_handler_does_not_delay_pong_or_the_screening_of_other_frames():
    app, _, _ = build_app()
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/slow-handler"))
        await ws.send('{"type": "hold", "id": 1}')
        await ws.send('{"type": "ping", "id": 2}')
        assert await recv_json(ws) == {"type": "pong", "data": None, "id": 2}
        await ws.send("not json")
        assert (await recv_json(ws))["data"]["code"] == "invalid_message"
        await ws.send('{"type": "whoami", "id": 3}')  # queued behind the held handler
        app.ctx.gate.set()
        assert await recv_json(ws) == {"type": "reply", "data": "released", "id": 1}
        assert (await recv_json(ws))["id"] == 3
        await ws.close()


async def test_messages_waiting_behind_a_slow_handler_are_bounded():
    app, _, _ = build_app(rate_burst=5, rate_limit=1e9)  # tokens refill at once: only the backlog bounds
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/backlog"))
        await ws.send('{"type": "hold", "id": 1}')
        await ws.send('{"type": "ping", "id": 100}')
        assert (await recv_json(ws))["type"] == "pong"  # the hold request is running by now
        for i in range(2, 8):
            await ws.send(json.dumps({"type": "whoami", "id": i}))
        refused = await recv_json(ws)
        assert refused["id"] == 7 and refused["data"]["code"] == "rate_limited"
        app.ctx.gate.set()
        assert [(await recv_json(ws))["id"] for _ in range(6)] == [1, 2, 3, 4, 5, 6]
        await ws.close()


async def test_a_handler_running_when_its_client_leaves_still_completes():
    app, wsns, events = build_app()
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/leaver"))
        [client] = wsns.get("/ws/open/leaver").clients.values()
        await ws.send('{"type": "hold", "id": 1}')
        await ws.send('{"type": "ping", "id": 2}')
        await recv_json(ws)  # the hold request is being handled by now
        await ws.close()
        await wait_for(lambda: not client.open)  # the server has seen the connection go
        assert wsns.has("/ws/open/leaver")
        app.ctx.gate.set()
        await wait_for(lambda: not wsns.has("/ws/open/leaver"))
        kinds = [kind for kind, _ in events]
        assert kinds.index("released") < kinds.index("disconnect")
