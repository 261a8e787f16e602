"""Frames as they reach sanic-wsns (``sanic_internals.FrameSink`` in Sanic's assembler's
place): whatever the moment and however a message is cut into frames, it is handled once,
in order; a message in more than ``max_fragments`` frames closes the connection 1008, and
a text frame that is not UTF-8 closes it 1007."""

import asyncio
import contextlib
import json

from websockets.exceptions import ConnectionClosed

from sanic_wsns import WsNamespaces
from tests.support.core_app import build_app
from tests.support.servers import new_app, serve, wait_for
from tests.support.wsclient import close_of, join, open_ws, recv_json


async def test_requests_sent_the_instant_the_handshake_completes_are_answered_after_the_welcome(core):
    """The client does not wait for its welcome: its frames reach the server while the
    client is being admitted (namespace, join, on_connect) and are handled after that."""
    server, _, _ = core
    for attempt in range(20):
        ws = await open_ws(server.ws(f"/ws/open/eager-{attempt % 3}"))
        for i in range(1, 4):
            await ws.send(json.dumps({"type": "ping", "data": i, "id": i}))
        assert (await recv_json(ws))["type"] == "welcome"
        assert [await recv_json(ws) for _ in range(3)] == [
            {"type": "pong", "data": i, "id": i} for i in range(1, 4)]
        await ws.close()


async def test_a_message_in_several_frames_is_handled_once_whole(core):
    server, _, _ = core
    ws = await open_ws(server.ws("/ws/open/fragments"))
    assert (await recv_json(ws))["type"] == "welcome"
    frame = json.dumps({"type": "add", "data": {"a": 20, "b": 22}, "id": 7})
    await ws.send([frame[:5], frame[5:17], frame[17:]])
    assert await recv_json(ws) == {"type": "added", "data": 42}
    assert await recv_json(ws) == {"type": "reply", "data": 42, "id": 7}
    await ws.close()


async def test_a_message_in_max_fragments_frames_is_handled_and_one_in_more_closes_1008():
    app, _, _ = build_app(max_fragments=3)
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/cut"))
        frame = json.dumps({"type": "ping", "data": 1, "id": 1})
        # websockets sends each piece in a frame, then an empty last frame.
        await ws.send([frame[:5], frame[5:]])
        assert await recv_json(ws) == {"type": "pong", "data": 1, "id": 1}
        with contextlib.suppress(ConnectionClosed):  # closed while the last frames go out
            await ws.send([frame[:3], frame[3:6], frame[6:]])
        code, reason = await close_of(ws)
        assert code == 1008 and reason == "a message in more than 3 frames"


async def test_a_text_frame_that_is_not_utf8_closes_1007(core):
    server, wsns, _ = core
    ws = await open_ws(server.ws("/ws/open/mojibake"))
    assert (await recv_json(ws))["type"] == "welcome"
    await ws.send(b'{"type": "ping", "data": "\xff"}', text=True)
    code, reason = await close_of(ws)
    assert code == 1007 and "UTF-8" in reason
    await wait_for(lambda: wsns.get("/ws/open/mojibake") is None)


async def test_requests_that_arrive_while_on_connect_runs_wait_for_it_then_are_answered_in_order():
    app = new_app()
    wsns = WsNamespaces(app, unsubscribe_linger=0)
    slow = wsns.pattern("/ws/slow/<name:str>")
    gate = asyncio.Event()

    @slow.on_connect
    async def hold_the_door(ns, client) -> None:
        if ns.params["name"] == "held":
            await gate.wait()

    async with serve(app) as server:
        held = await open_ws(server.ws("/ws/slow/held"))
        assert (await recv_json(held))["type"] == "welcome"  # joined: on_connect is running
        for i in range(1, 4):
            await held.send(json.dumps({"type": "ping", "data": i, "id": i}))
        # A pong on another connection: the server has read every socket that was readable
        # before it, so the held client's frames have reached sanic-wsns by now.
        other = await open_ws(server.ws("/ws/slow/other"))
        assert (await recv_json(other))["type"] == "welcome"
        await other.send(json.dumps({"type": "ping", "id": 9}))
        assert (await recv_json(other))["type"] == "pong"
        gate.set()
        assert [await recv_json(held) for _ in range(3)] == [
            {"type": "pong", "data": i, "id": i} for i in range(1, 4)]
        await held.close()
        await other.close()


async def test_a_message_that_arrives_during_on_connect_pauses_reading_the_socket_until_the_hook_ends():
    """The app is the slow reader while its ``on_connect`` runs: the first message waits in
    ``FrameSink`` and Sanic's transport stops reading (``pause_frames``), so the peer cannot
    pile up more than one read's worth; when the hook ends, reading resumes and every
    message is handled in order. (The unit tests run without a socket, where Sanic's
    pause and resume return at once.)"""
    app = new_app()
    wsns = WsNamespaces(app)
    slow = wsns.pattern("/ws/slow")
    entered, release = asyncio.Event(), asyncio.Event()
    transports: list[asyncio.Transport] = []

    @slow.on_connect
    async def hold(ns, client) -> None:
        transports.append(client.request.transport)
        entered.set()
        await release.wait()

    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/slow"))
        async with asyncio.timeout(5):
            await entered.wait()
        [transport] = transports
        assert transport.is_reading()
        await ws.send(json.dumps({"type": "ping", "data": 1, "id": 1}))
        await wait_for(lambda: not transport.is_reading())
        await ws.send(json.dumps({"type": "ping", "data": 2, "id": 2}))
        release.set()
        assert [await recv_json(ws) for _ in range(2)] == [
            {"type": "pong", "data": i, "id": i} for i in (1, 2)]
        assert transport.is_reading()
        await ws.close()
