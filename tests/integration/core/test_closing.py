"""The end of a connection, frame by frame (RFC 6455 §5.5.1 and §7.1.7): the server's
Close is the last frame it sends, however the frames that end the connection share a TCP
read with frames it would answer, and no message that follows a fault is handled."""

import asyncio
import json

import pytest
from websockets.frames import Close, Frame, Opcode

from sanic_wsns import WsNamespaces
from tests.support.rawframes import RawClient, client_frame, close_frame
from tests.support.servers import new_app, serve, wait_for


def text(message: object) -> bytes:
    return client_frame(Opcode.TEXT, json.dumps(message).encode())


APP_PING = text({"type": "ping", "data": 1, "id": 1})
NOT_JSON = client_frame(Opcode.TEXT, b"{not json")


def exchange(url: str, *frames: bytes) -> list[Frame]:
    """Send ``frames`` in one write after the welcome; every frame the server sent after
    the welcome, up to the end of the TCP stream."""
    client = RawClient.connect(url)
    try:
        assert json.loads(client.first_frame().data)["type"] == "welcome"
        client.send(*frames)
        return client.frames_until_eof()[1:]
    finally:
        client.close()


def ends_with_one_close(frames: list[Frame], code: int) -> None:
    opcodes = [frame.opcode for frame in frames]
    assert opcodes.count(Opcode.CLOSE) == 1 and opcodes[-1] is Opcode.CLOSE, frames
    assert Close.parse(frames[-1].data).code == code


@pytest.mark.parametrize("frames, code", [
    pytest.param((APP_PING, close_frame()), 1000, id="ping-message,close"),
    pytest.param((NOT_JSON, close_frame()), 1000, id="not-json,close"),
    pytest.param((APP_PING, client_frame(Opcode.TEXT, b"{}", rsv1=True)), 1002, id="ping-message,rsv1"),
    pytest.param((NOT_JSON, client_frame(Opcode.CONT, b"x")), 1002, id="not-json,stray-continuation"),
])
async def test_nothing_is_sent_after_the_servers_close(core, frames, code):
    server, _, _ = core
    for attempt in range(10):
        sent = await asyncio.to_thread(exchange, server.ws(f"/ws/open/end-{attempt}"), *frames)
        ends_with_one_close(sent, code)


async def test_a_protocol_ping_before_a_close_is_answered_before_the_close(core):
    server, _, _ = core
    sent = await asyncio.to_thread(exchange, server.ws("/ws/open/pong-first"),
                                   client_frame(Opcode.PING, b"are you there"), close_frame())
    assert [frame.opcode for frame in sent] == [Opcode.PONG, Opcode.CLOSE]
    assert sent[0].data == b"are you there"


async def test_a_request_after_a_frame_that_fails_the_connection_is_not_handled():
    """``[invalid UTF-8][request]`` in one write: the server closes 1007 and the request's
    handler never runs (it would run with nobody to reply to)."""
    app = new_app()
    wsns = WsNamespaces(app, unsubscribe_linger=0)
    counted = wsns.pattern("/ws/count/<name:str>")
    calls: list[int] = []

    @counted.on("count")
    def count(ns, client, data: int) -> int:
        calls.append(data)
        return len(calls)

    async with serve(app) as server:
        client = await asyncio.to_thread(RawClient.connect, server.ws("/ws/count/after-fault"))
        await asyncio.to_thread(client.first_frame)
        client.send(text({"type": "count", "data": 1, "id": 1}))
        await wait_for(lambda: calls == [1])
        client.send(client_frame(Opcode.TEXT, b'{"type": "count", "data": "\xff"}'),
                    text({"type": "count", "data": 2, "id": 2}))
        sent = (await asyncio.to_thread(client.frames_until_eof))[1:]
        client.close()
        await wait_for(lambda: wsns.get("/ws/count/after-fault") is None)  # every handler done
        assert calls == [1]
        assert json.loads(sent[0].data) == {"type": "reply", "data": 1, "id": 1}
        ends_with_one_close(sent[1:], 1007)


async def test_a_reply_and_a_broadcast_during_the_closing_handshake_are_not_sent():
    """The peer's Close arrives while its request's handler runs; the handler goes on in
    the loop turn right after it (before Sanic's closer shuts the socket's write side) and
    broadcasts and replies: neither follows the server's Close."""
    app = new_app()
    wsns = WsNamespaces(app, unsubscribe_linger=0)
    rooms = wsns.pattern("/ws/late/<name:str>")
    running = asyncio.Event()

    @rooms.on("linger")
    async def linger(ns, client) -> str:
        running.set()
        for _ in range(100_000):  # bounded: one loop turn at a time until the Close is read
            if client.close_code is not None:
                break
            await asyncio.sleep(0)
        await ns.broadcast("late", "broadcast")
        return "late reply"

    async with serve(app) as server:
        client = await asyncio.to_thread(RawClient.connect, server.ws("/ws/late/room"))
        await asyncio.to_thread(client.first_frame)
        client.send(text({"type": "linger", "id": 1}))
        await asyncio.wait_for(running.wait(), 5)
        client.send(close_frame())
        sent = (await asyncio.to_thread(client.frames_until_eof))[1:]
        client.close()
        await wait_for(lambda: wsns.get("/ws/late/room") is None)
        ends_with_one_close(sent, 1000)
