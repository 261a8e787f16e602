"""The scale benchmark's frame counter (bench/frame_counter.py) against a real server: once
switched on it counts the broadcasts holding its mark (and nothing else), keeps the
connection alive by answering the server's keepalive pings itself, and hands a close back
to websockets so the connection still ends with a clean close handshake."""

from __future__ import annotations

from websockets.asyncio.client import connect

from bench.frame_counter import FrameCountingConnection
from sanic_wsns import WsNamespaces
from tests.support.servers import new_app, serve, wait_for

MARK = b'"p":"b"'


async def test_counts_marked_broadcasts_answers_pings_and_hands_a_close_back():
    app = new_app()
    app.config.WEBSOCKET_PING_INTERVAL = 0.1
    app.config.WEBSOCKET_PING_TIMEOUT = 0.3
    wsns = WsNamespaces(app)
    wsns.pattern("/ws/count")
    async with serve(app) as server:
        async with connect(server.ws("/ws/count"), create_connection=FrameCountingConnection,
                           ping_interval=None, compression=None) as ws:
            assert b'"welcome"' in (await ws.recv(decode=False))
            assert isinstance(ws, FrameCountingConnection)
            counted: list[None] = []
            ws.count_frames(MARK, lambda: counted.append(None))
            [client] = wsns.get("/ws/count").clients.values()
            for n in range(3):
                await wsns.broadcast("/ws/count", "b", {"p": "b", "n": n, "pad": "x" * 200 * n})
            await wsns.broadcast("/ws/count", "other", {"p": "other"})  # no mark: not counted
            await wsns.broadcast("/ws/count", "b", {"p": "b", "big": "y" * 70_000})  # 64-bit length
            await wait_for(lambda: len(counted) == 4)
            pinged = client._pinged_at
            # Many intervals, each ping answered by the counter alone (a missed pong closes).
            await wait_for(lambda: client._pinged_at > pinged + 1.0)
            assert client.open and ws.close_code is None
            await wsns.remove_namespace("/ws/count")  # the server closes: websockets takes over
            await wait_for(lambda: ws.close_code is not None)
            assert ws.close_code == 4410 and ws.counted is None
        assert len(counted) == 4
