"""What an idle connection keeps of Sanic's per-connection machinery once sanic-wsns
reads it (bench W3, ``python -m bench.memory``): no ``asyncio.Event`` with its waiter
deque, no pending HTTP timeout timer, no closer task, and it still closes and writes as
before."""

import asyncio

from websockets.asyncio.client import connect

from sanic_wsns import WsNamespaces
from sanic_wsns.sanic_internals import SlimEvent, SlimWebsocket
from tests.support.core_app import build_app
from tests.support.rawframes import RawClient, close_frame
from tests.support.servers import new_app, serve, wait_for
from tests.support.wsclient import TIMEOUT, close_of, join, recv_json, request

#: Longer than any wait below: only the server ending the TCP connection ends a close.
PATIENT_CLOSE = 60


async def join_patiently(url: str):
    """``join`` with a client that waits for the server to end the TCP connection after
    a closing handshake (rather than ending it itself after 2 s, as ``open_ws`` does)."""
    ws = await connect(url, open_timeout=TIMEOUT, close_timeout=PATIENT_CLOSE)
    assert (await recv_json(ws))["type"] == "welcome"
    return ws


def sanic_connection(wsns):
    """The server side of the one connected client: Sanic's connection protocol."""
    (client,) = list(wsns.hub.clients())
    return client, client._socket._ws.io_proto


async def test_an_idle_connection_keeps_slim_events_and_no_http_timeout_timer(core):
    server, wsns, _ = core
    ws, _ = await join(server.ws("/ws/open/idle-memory"))
    _, io_proto = sanic_connection(wsns)
    assert type(io_proto._can_write) is SlimEvent and type(io_proto._data_received) is SlimEvent
    assert io_proto._can_write.is_set()  # writes were not paused at the handshake
    assert io_proto._callback_check_timeouts is None
    await ws.close()


async def test_a_close_waits_for_paused_writes_through_the_slim_event(core):
    """Sanic's close writes through ``io_proto.send``, which waits on ``_can_write`` while
    the transport's writes are paused: it goes out once they resume."""
    server, wsns, _ = core
    ws, _ = await join(server.ws("/ws/open/paused-close"))
    client, io_proto = sanic_connection(wsns)
    io_proto.pause_writing()
    closing = asyncio.ensure_future(client.close(4000, "bye"))
    for _ in range(20):  # loop turns for the close to go out early (it must not)
        await asyncio.sleep(0)
    assert not closing.done()
    io_proto.resume_writing()
    code, reason = await close_of(ws)
    assert (code, reason) == (4000, "bye")
    await asyncio.wait_for(closing, 5)


async def test_an_idle_connection_s_handler_task_is_serve_waiting_on_one_future(core):
    """The handler's task runs ``serve`` itself (``route`` hands Sanic its coroutine), and
    ``serve`` waits on the end-of-connection future directly: no frame in between, each of
    which every idle connection would keep (~0.4 KiB for ``route``'s, bench W3)."""
    server, _, _ = core
    ws, _ = await join(server.ws("/ws/open/idle-task"))
    (task,) = [t for t in server.app.websocket_tasks if not t.done()]
    coro = task.get_coro()
    assert coro.__qualname__ == "serve"
    assert coro.cr_await is not None and not asyncio.iscoroutine(coro.cr_await)  # a future's iterator
    await ws.close()


async def test_an_idle_connection_keeps_no_closer_task(core):
    """Sanic's closer task, its shield and its futures (~1.4 KiB) are never made for a
    sanic-wsns route (``SlimWebsocket``)."""
    server, wsns, _ = core
    ws = await join_patiently(server.ws("/ws/open/no-closer"))
    client, _ = sanic_connection(wsns)
    sanic_ws = client._socket._ws
    assert type(sanic_ws) is SlimWebsocket
    assert sanic_ws.auto_closer_task is None and sanic_ws.data_finished_fut is None
    assert sanic_ws.connection_lost_waiter is None
    await asyncio.wait_for(ws.close(), TIMEOUT)


async def test_without_a_closer_the_server_ends_the_tcp_connection_after_the_peer_s_close(core):
    server, wsns, _ = core
    ws = await join_patiently(server.ws("/ws/open/peer-closes"))
    _, io_proto = sanic_connection(wsns)
    await asyncio.wait_for(ws.close(4000, "bye"), TIMEOUT)  # returns once the server ended TCP
    assert ws.close_code == 4000
    await wait_for(lambda: io_proto.conn_info.lost and not list(wsns.hub.clients()))


async def test_without_a_closer_the_server_ends_the_tcp_connection_after_its_own_close(core):
    server, wsns, _ = core
    ws = await join_patiently(server.ws("/ws/open/server-closes"))
    client, io_proto = sanic_connection(wsns)
    await client.close(4000, "bye")
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)  # the server ended TCP (the client waits 60 s)
    assert (ws.close_code, ws.close_reason) == (4000, "bye")
    await wait_for(lambda: io_proto.conn_info.lost and not list(wsns.hub.clients()))


async def test_without_a_closer_a_half_closed_connection_the_peer_never_ends_is_aborted():
    """After the closing handshake the server half-closes; a peer that never ends its
    side is cut off the connection's ``close_timeout`` later, as Sanic's closer did, and
    Sanic then cancels a handler still in its ``on_disconnect`` hooks."""
    app = new_app()
    wsns = WsNamespaces(app, unsubscribe_linger=0)
    rooms = wsns.pattern("/ws/held/<name:str>")
    in_hook = asyncio.Event()

    @rooms.on_disconnect
    async def held(ns, client) -> None:
        in_hook.set()
        await asyncio.Event().wait()  # until the connection's task is cancelled

    async with serve(app) as server:
        client = await asyncio.to_thread(RawClient.connect, server.ws("/ws/held/room"))
        try:
            await asyncio.to_thread(client.first_frame)
            _, io_proto = sanic_connection(wsns)
            io_proto.websocket.close_timeout = 0.2  # Sanic's 10 s (Sanic 25.12 never reads WEBSOCKET_TIMEOUT)
            client.send(close_frame())
            await asyncio.to_thread(client.frames_until_eof)  # the server's Close, then its FIN
            await asyncio.wait_for(in_hook.wait(), TIMEOUT)
            await wait_for(lambda: io_proto.conn_info.lost)  # though this side never closed
            await wait_for(lambda: wsns.get("/ws/held/room") is None)
        finally:
            client.close()


async def test_without_a_closer_a_dropped_tcp_connection_leaves_its_namespace(core):
    server, wsns, _ = core
    ws = await join_patiently(server.ws("/ws/open/dropped"))
    ws.transport.abort()
    await wait_for(lambda: not list(wsns.hub.clients()))


async def test_a_websocket_route_that_is_not_sanic_wsns_s_keeps_sanic_s_closer():
    app, _, _ = build_app()
    built = []

    @app.websocket("/plain")
    async def plain(request, ws):
        built.append(ws)
        await ws.send(await ws.recv())

    async with serve(app) as server:
        ws = await connect(server.ws("/plain"), open_timeout=TIMEOUT, close_timeout=PATIENT_CLOSE)
        await ws.send("echo")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "echo"
        (sanic_ws,) = built
        assert sanic_ws.auto_closer_task is not None
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)  # the handler returned: Sanic closed it


async def test_a_joined_client_s_request_still_offers_what_its_hooks_read():
    """What the docs say ``authorize`` reads (query arguments, cookies, headers,
    ``request.ctx``) is still on ``client.request`` after the handshake: ``refresh`` runs
    ``authorize`` again on it, and no memory cut may take it away."""
    app = new_app()
    wsns = WsNamespaces(app)
    rooms = wsns.pattern("/ws/req/<name:str>")

    @rooms.on("read")
    def read(ns, client) -> dict:
        request = client.request
        return {"arg": request.args.get("a"), "cookie": request.cookies.get("user"),
                "header": request.headers.get("x-app"), "ctx": request.ctx.wsns_token is None}

    async with serve(app) as server:
        ws, _ = await join(server.ws("/ws/req/room?a=1"),
                           additional_headers={"Cookie": "user=ann", "X-App": "bubbles"})
        reply = await request(ws, "read")
        assert reply["data"] == {"arg": "1", "cookie": "ann", "header": "bubbles", "ctx": True}
        await ws.close()
