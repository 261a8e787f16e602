"""permessage-deflate over real Sanic servers (``WSNS_COMPRESSION``): off by default;
on, it is agreed with clients that offer it (the ``websockets`` client, the Python client,
a raw socket), a broadcast reaches every client that agreed as the same compressed bytes,
small frames go uncompressed, frames arrive whole both ways, and a client's compressed
messages are held to the same size and fragment bounds as any other (a decompression
bomb closes 1009)."""

from __future__ import annotations

import asyncio
import json
import zlib

import pytest
from websockets.frames import Close, Frame, Opcode

from sanic_wsns.deflate import AGREEMENT
from tests.support.core_app import build_app
from tests.support.rawframes import RawClient, client_frame
from tests.support.servers import serve
from tests.support.wsclient import join, recv_json, request

OFFER = "permessage-deflate; client_max_window_bits"  # what Chromium and websockets offer


def text(message: object) -> bytes:
    return client_frame(Opcode.TEXT, json.dumps(message).encode())


def compressed(payload: bytes) -> bytes:
    """``payload`` compressed as a client sends it (raw deflate, the flush tail dropped)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def inflate(frame: Frame) -> dict[str, object]:
    assert frame.rsv1, frame
    data = zlib.decompressobj(-15).decompress(bytes(frame.data) + b"\x00\x00\xff\xff")
    return json.loads(data)


def raw_join(url: str, extensions: str | None = OFFER) -> RawClient:
    client = RawClient.connect(url, extensions=extensions)
    assert json.loads(client.first_frame().data)["type"] == "welcome"
    return client


def agreed(client: RawClient) -> bool:
    return f"sec-websocket-extensions: {AGREEMENT}".encode() in client.head.lower()


def after_welcome(client: RawClient, count: int) -> list[Frame]:
    return client.first_frames(count + 1)[1:]


def closed_with(client: RawClient) -> int:
    frames = client.frames_until_eof()
    closes = [frame for frame in frames if frame.opcode is Opcode.CLOSE]
    assert len(closes) == 1, frames
    return Close.parse(closes[0].data).code


async def test_compression_is_off_by_default():
    app, _, _ = build_app()
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/plain"))  # websockets offers deflate by default
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        await ws.close()
        client = await asyncio.to_thread(raw_join, server.ws("/ws/open/plain"))
        client.send(text({"type": "big", "data": 2000, "id": 1}))
        broadcast, _ = await asyncio.to_thread(after_welcome, client, 2)
        assert not agreed(client) and not broadcast.rsv1
        assert json.loads(broadcast.data) == {"type": "big", "data": "x" * 2000}
        client.close()


async def test_the_websockets_client_agrees_and_large_frames_arrive_whole_both_ways():
    app, _, _ = build_app(compression=True)
    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/open/both-ways"))
        assert ws.response.headers["Sec-WebSocket-Extensions"] == AGREEMENT
        # websockets compresses every message it sends once the extension is agreed.
        assert await request(ws, "ping", "y" * 5000) == {"type": "pong", "data": "y" * 5000, "id": 1}
        await ws.send(json.dumps({"type": "big", "data": 3000, "id": 2}))
        assert await recv_json(ws) == {"type": "big", "data": "x" * 3000}
        assert await recv_json(ws) == {"type": "reply", "data": None, "id": 2}
        await ws.close()


async def test_a_broadcast_is_compressed_on_the_wire_and_a_small_frame_is_not():
    app, _, _ = build_app(compression=True)
    async with serve(app) as server:
        client = await asyncio.to_thread(raw_join, server.ws("/ws/open/wire"))
        assert agreed(client)
        client.send(text({"type": "big", "data": 2000, "id": 1}),
                    text({"type": "ping", "data": "p" * 150, "id": 2}))
        # The ping is answered as it arrives, before the handler's broadcast and reply.
        pong, broadcast, _ = await asyncio.to_thread(after_welcome, client, 3)
        assert len(broadcast.data) < 100 and inflate(broadcast) == {"type": "big", "data": "x" * 2000}
        # Under WSNS_COMPRESSION_THRESHOLD (256 bytes): sent as it is, compressible or not.
        assert not pong.rsv1 and json.loads(pong.data) == {"type": "pong", "data": "p" * 150, "id": 2}
        client.close()


async def test_a_large_frame_for_one_client_alone_is_compressed_for_it():
    app, _, _ = build_app(compression=True)
    async with serve(app) as server:
        client = await asyncio.to_thread(raw_join, server.ws("/ws/open/own"))
        client.send(text({"type": "big-to-me", "data": 3000, "id": 1}))
        own, reply = await asyncio.to_thread(after_welcome, client, 2)
        assert inflate(own) == {"type": "big", "data": "x" * 3000}
        assert json.loads(reply.data) == {"type": "reply", "data": None, "id": 1}
        client.close()


async def test_every_client_that_agreed_gets_the_same_compressed_bytes_and_the_others_plain_frames():
    app, _, _ = build_app(compression=True)
    async with serve(app) as server:
        url = server.ws("/ws/open/shared")
        first, second = [await asyncio.to_thread(raw_join, url) for _ in range(2)]
        plain = await asyncio.to_thread(raw_join, url, None)
        assert not agreed(plain)
        first.send(text({"type": "big", "data": 4000}))
        [one], [two], [three] = [await asyncio.to_thread(after_welcome, c, 1) for c in (first, second, plain)]
        assert one == two and one.rsv1
        assert not three.rsv1
        assert json.loads(three.data) == inflate(one) == {"type": "big", "data": "x" * 4000}
        for client in (first, second, plain):
            client.close()


@pytest.mark.parametrize("offer", [
    "permessage-deflate; server_max_window_bits=10",
    "permessage-deflate;;=",
    "permessage-deflate; unknown",
])
async def test_an_offer_the_server_cannot_honour_connects_uncompressed(offer):
    app, _, _ = build_app(compression=True)
    async with serve(app) as server:
        client = await asyncio.to_thread(raw_join, server.ws("/ws/open/declined"), offer)
        assert b"sec-websocket-extensions" not in client.head.lower()
        client.send(text({"type": "big", "data": 2000, "id": 1}))
        broadcast, _ = await asyncio.to_thread(after_welcome, client, 2)
        assert not broadcast.rsv1
        client.close()


async def test_a_decompression_bomb_closes_1009_and_others_are_served_meanwhile():
    app, _, _ = build_app(compression=True, max_frame_size=4096)
    async with serve(app) as server:
        # Under Sanic's own 1 MiB limit: only the extension's bound can stop it.
        bomb = compressed(b'{"type":"ping","data":"' + b"a" * 1_000_000 + b'"}')
        assert len(bomb) < 2_000  # 1 MB in, under 2 KB on the wire
        client = await asyncio.to_thread(raw_join, server.ws("/ws/open/bomb"))
        bystander, _ = await join(server.ws("/ws/open/bomb"))
        client.send(client_frame(Opcode.TEXT, bomb, rsv1=True))
        assert await asyncio.to_thread(closed_with, client) == 1009
        assert await request(bystander, "ping", 1) == {"type": "pong", "data": 1, "id": 1}
        await bystander.close()


async def test_a_compressed_message_within_the_bounds_is_handled_and_one_in_too_many_frames_closes_1008():
    app, _, _ = build_app(compression=True, max_fragments=3)
    async with serve(app) as server:
        data = compressed(json.dumps({"type": "ping", "data": "z" * 1000, "id": 1}).encode())
        cut = len(data) // 4
        client = await asyncio.to_thread(raw_join, server.ws("/ws/open/cut"))
        client.send(client_frame(Opcode.TEXT, data[:cut], fin=False, rsv1=True),
                    client_frame(Opcode.CONT, data[cut:2 * cut], fin=False),
                    client_frame(Opcode.CONT, data[2 * cut:]))
        [pong] = await asyncio.to_thread(after_welcome, client, 1)
        assert inflate(pong) == {"type": "pong", "data": "z" * 1000, "id": 1}
        client.send(client_frame(Opcode.TEXT, data[:cut], fin=False, rsv1=True),
                    *(client_frame(Opcode.CONT, data[i * cut:(i + 1) * cut], fin=False) for i in (1, 2)),
                    client_frame(Opcode.CONT, data[3 * cut:]))
        assert await asyncio.to_thread(closed_with, client) == 1008


async def test_a_websocket_route_of_the_app_outside_the_extension_agrees_on_nothing():
    app, _, _ = build_app(compression=True)

    @app.websocket("/elsewhere")
    async def elsewhere(request, ws):
        await ws.send(await ws.recv())

    async with serve(app) as server:
        client = await asyncio.to_thread(RawClient.connect, server.ws("/elsewhere"), None, OFFER)
        assert b"sec-websocket-extensions" not in client.head.lower()
        client.close()


async def test_the_python_client_agrees_and_frames_arrive_whole_both_ways():
    app, wsns, _ = build_app(compression=True)
    async with serve(app) as server:
        ns = await server.connect("/ws/open/remote")
        [joined] = wsns.get("/ws/open/remote").clients.values()
        assert joined.deflater is not None
        listener, _ = await join(server.ws("/ws/open/remote"))
        await ns.send("say", "s" * 5000)  # broadcast to the others: the listener
        assert await recv_json(listener) == {"type": "said", "data": "s" * 5000}
        got: asyncio.Queue[object] = asyncio.Queue()
        ns.on("big", lambda data, frame: got.put_nowait(data))
        await ns.request("big", 6000)
        assert await asyncio.wait_for(got.get(), 5) == "x" * 6000
        await listener.close()


async def test_the_python_client_offers_nothing_with_compression_false():
    app, wsns, _ = build_app(compression=True)
    async with serve(app) as server:
        await server.connect("/ws/open/remote-plain", compression=False)
        [joined] = wsns.get("/ws/open/remote-plain").clients.values()
        assert joined.deflater is None
