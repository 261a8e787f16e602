"""What an idle connection keeps of Sanic's per-connection machinery once sanic-wsns
reads it (bench W3, ``python -m bench.memory``): no ``asyncio.Event`` with its waiter
deque, no pending HTTP timeout timer, and it still closes and writes as before."""

import asyncio

from sanic_wsns.sanic_internals import SlimEvent
from tests.support.wsclient import close_of, join


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
