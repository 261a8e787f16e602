"""A presence namespace's life under forced interleavings, over real sockets on memory://:
re-created while its predecessor's last leave is being written, and connections reset
right after their 101 while their join is in flight (Sanic cancels the handler then).

Whatever happens, the namespace keeps working and everything comes back to zero: no
ghost in presence, no connection slot still claimed, no empty namespace left hosted.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from tests.support.gated_broker import GatedBroker
from tests.support.instances import Instance, frame, instances
from tests.support.servers import wait_for
from tests.support.wsclient import close_of, open_ws

_hubs = itertools.count()
#: A client's Close frame, code 1000, masked with the key "abcd".
CLOSE_1000 = b"\x88\x82abcd" + bytes(x ^ y for x, y in zip(b"\x03\xe8", b"ab", strict=True))


class Gate:
    """A fresh ``memory://`` hub whose brokers are ``GatedBroker``s (``url``); ``hold(call)``
    makes that broker call wait until ``GatedBroker.confirm`` is set (``GatedBroker.asked``
    says it was made)."""

    def __init__(self) -> None:
        self.url = f"memory://gated-presence-{next(_hubs)}"

    def hold(self, call: str) -> None:
        GatedBroker.gated = call

    def instances(self, **settings: Any) -> AbstractAsyncContextManager[list[Instance]]:
        """Instances whose broker is a ``GatedBroker`` on this hub (passed to each app)."""
        return instances(self.url, broker_class=GatedBroker, **settings)


@pytest.fixture
def gate(monkeypatch) -> Gate:
    monkeypatch.setattr(GatedBroker, "gated", "")
    GatedBroker.confirm, GatedBroker.asked = asyncio.Event(), asyncio.Event()
    return Gate()


async def settled_to_zero(a: Instance) -> None:
    """Nothing left: no connection counted, no namespace hosted, nobody in presence."""
    await wait_for(lambda: a.totals["connections"] == 0 and len(a.wsns.registry) == 0, timeout=10)
    assert await a.wsns.presence("/maps/1") == {}
    assert a.wsns.hub.connections.held("ann") == 0


async def test_a_namespace_re_created_while_its_last_leave_is_written_keeps_working(gate):
    async with gate.instances(count=1, presence=True, max_connections_per_identity=5) as (a,):
        ann = await open_ws(a.ws("1", "name=ann"))
        assert [(await frame(ann))["type"] for _ in range(2)] == ["welcome", "presence_state"]
        gate.hold("presence_remove")
        ann.transport.abort()
        await asyncio.wait_for(GatedBroker.asked.wait(), 5)  # dropped; its leave being written
        bob = await open_ws(a.ws("1", "name=bob"))  # re-creates the namespace meanwhile
        GatedBroker.confirm.set()
        welcome = await frame(bob)
        bob_id = welcome["data"]["client_id"]
        assert (await frame(bob)) == {"type": "presence_state", "data": {bob_id: {"name": "bob"}}}
        carol = await open_ws(a.ws("1", "name=carol"))
        carol_id = (await frame(carol))["data"]["client_id"]
        assert (await frame(bob))["data"]["joins"] == {carol_id: {"name": "carol"}}
        assert set(await a.wsns.presence("/maps/1")) == {bob_id, carol_id}
        assert a.totals["connections"] == a.totals["clients"] == 2
        await bob.close()
        await carol.close()
        await settled_to_zero(a)


Raw = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def upgraded(a: Instance, query: str) -> AsyncIterator[Raw]:
    """A raw connection to map 1 past its 101, reset (RST, SO_LINGER 0) when the block ends."""
    reader, writer = await asyncio.open_connection(a.srv.host, a.srv.port)
    writer.write((f"GET /maps/1?{query} HTTP/1.1\r\nHost: {a.srv.host}:{a.srv.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                 .encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    sock = writer.get_extra_info("socket")
    try:
        yield reader, writer
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


async def reset_while_held(a: Instance, query: str) -> None:
    """Upgrade, wait until the gated call holds the join, reset the connection, and let the
    call go only once Sanic has ended the handler (cancelled: the reset came first)."""
    handlers = len(a.wsns.app.websocket_tasks)
    async with upgraded(a, query):
        await asyncio.wait_for(GatedBroker.asked.wait(), 5)
    await wait_for(lambda: len(a.wsns.app.websocket_tasks) == handlers)
    GatedBroker.confirm.set()


async def test_a_reset_while_the_namespace_is_being_created_leaves_nothing_behind(gate):
    async with gate.instances(count=1, presence=True, max_connections_per_identity=5) as (a,):
        gate.hold("subscribe")
        await reset_while_held(a, "name=ann")
        await settled_to_zero(a)
        await wait_for(lambda: a.wsns.broker.stats()["subscriptions"] == 1)  # the control channel
        ws = await open_ws(a.ws("1", "name=bob"))  # and the map still works
        assert (await frame(ws))["type"] == "welcome"
        await ws.close()


async def test_a_reset_while_a_returning_client_reads_its_history_leaves_no_ghost(gate):
    async with gate.instances(count=1, presence=True, history=True,
                         max_connections_per_identity=5) as (a,):
        stay = await open_ws(a.ws("1", "name=stay"))
        welcome = (await frame(stay))["data"]
        await frame(stay)  # its presence_state
        position = welcome["position"]
        gate.hold("read_history")
        await reset_while_held(a, f"name=ann&since={position['offset']}&epoch={position['epoch']}")
        await wait_for(lambda: a.totals["connections"] == 1)
        assert await a.wsns.presence("/maps/1") == {welcome["client_id"]: {"name": "stay"}}
        assert a.wsns.hub.connections.held("ann") == 0 and a.totals["clients"] == 1
        await stay.close()
        await settled_to_zero(a)


async def test_a_reset_while_on_connect_runs_gives_the_slot_back(gate):
    async with gate.instances(count=1, presence=True, max_connections_per_identity=5) as (a,):
        [maps] = a.wsns.patterns
        in_hook = asyncio.Event()

        @maps.on_connect
        async def slow(ns, client) -> None:
            in_hook.set()
            await asyncio.Event().wait()  # until the connection's task is cancelled

        async with upgraded(a, "name=ann"):
            await asyncio.wait_for(in_hook.wait(), 5)
        await settled_to_zero(a)


async def test_a_connection_refused_for_capacity_gives_its_slot_back(gate):
    async with gate.instances(count=1, presence=True, max_namespaces=1,
                         max_connections_per_identity=5) as (a,):
        first = await open_ws(a.ws("1", "name=first"))
        await frame(first)
        refused = await open_ws(a.srv.ws("/maps/2?name=ann"))
        assert (await close_of(refused))[0] == 1013
        assert a.totals["connections"] == 1 and a.wsns.hub.connections.held("ann") == 0
        await first.close()
        await settled_to_zero(a)


async def test_a_reset_connect_does_not_drop_the_new_namespace_under_another_on_its_way_in(gate):
    """Two connects wait for one namespace being created; the first is reset. The namespace
    is kept for the second (dropped, it would hold the second where nothing arrives)."""
    async with gate.instances(count=1, presence=True, max_connections_per_identity=5) as (a,):
        gate.hold("subscribe")
        handlers = len(a.wsns.app.websocket_tasks)
        async with upgraded(a, "name=ann"):
            await asyncio.wait_for(GatedBroker.asked.wait(), 5)
            bob = await open_ws(a.ws("1", "name=bob"))  # past its 101, waiting for the namespace
        await wait_for(lambda: len(a.wsns.app.websocket_tasks) == handlers + 1)  # ann's ended
        subscribed, GatedBroker.confirm = GatedBroker.confirm, asyncio.Event()
        GatedBroker.asked = asyncio.Event()
        gate.hold("presence_get")  # then the new namespace's first presence read, which bob awaits
        subscribed.set()
        await asyncio.wait_for(GatedBroker.asked.wait(), 5)
        for _ in range(20):  # let every ready task run: ann's vacancy check among them
            await asyncio.sleep(0)
        GatedBroker.confirm.set()
        bob_id = (await frame(bob))["data"]["client_id"]
        assert (await frame(bob))["data"] == {bob_id: {"name": "bob"}}
        await a.wsns.broadcast("/maps/1", "edited", "still hosted")
        assert (await frame(bob))["data"] == "still hosted"
        assert a.totals["connections"] == a.totals["clients"] == 1
        await bob.close()
        await settled_to_zero(a)


async def test_a_client_on_its_way_in_when_its_namespace_is_removed_is_closed_with_the_code(gate):
    """remove_namespace closes the clients in the namespace; one whose missed frames were
    being read meanwhile gets the same close once it is in, instead of staying where
    nothing arrives any more."""
    async with gate.instances(count=1, presence=True, history=True,
                         max_connections_per_identity=5) as (a,):
        stay = await open_ws(a.ws("1", "name=stay"))
        position = (await frame(stay))["data"]["position"]
        gate.hold("read_history")
        returning = await open_ws(a.ws("1", f"name=ann&since={position['offset']}&epoch={position['epoch']}"))
        await asyncio.wait_for(GatedBroker.asked.wait(), 5)
        await a.wsns.remove_namespace("/maps/1", code=4410, reason="map deleted")
        assert await close_of(stay) == (4410, "map deleted")
        GatedBroker.confirm.set()
        assert await close_of(returning) == (4410, "map deleted")
        await settled_to_zero(a)


async def test_a_connection_cancelled_in_its_on_disconnect_hook_still_lets_the_namespace_go(gate):
    """The last client closes; while its on_disconnect hook runs, the TCP connection ends
    and Sanic cancels the handler: the namespace is dropped all the same."""
    async with gate.instances(count=1, presence=True) as (a,):
        [maps] = a.wsns.patterns
        in_hook = asyncio.Event()

        @maps.on_disconnect
        async def slow(ns, client) -> None:
            in_hook.set()
            await asyncio.Event().wait()  # until the connection's task is cancelled

        async with upgraded(a, "name=ann") as (reader, writer):
            assert await asyncio.wait_for(reader.read(1), 5)  # its welcome is coming: joined
            writer.write(CLOSE_1000)
            await asyncio.wait_for(in_hook.wait(), 5)  # closed politely; the hook holds
        await settled_to_zero(a)
