"""Lifecycle: drop when empty, re-create, pre-create, remove, shutdown, and no leaks."""

import asyncio
import json
import urllib.error
import urllib.request
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from sanic_wsns import Unauthorized
from sanic_wsns.protocol import encode, ws_text_frame
from sanic_wsns.relay import Kind, RelayMessage, encode_relay
from tests.support.core_app import build_app
from tests.support.gated_broker import GatedBroker
from tests.support.instances import instances
from tests.support.servers import serve, wait_for
from tests.support.wsclient import close_of, join, join_sleeper, open_ws, recv_json


def http_get(url: str, headers: dict | None = None) -> tuple[int, Any, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


async def test_the_last_client_leaving_drops_the_namespace_and_the_next_connect_recreates_it(core):
    server, wsns, events = core
    a, _ = await join(server.ws("/ws/async/3"))
    first = wsns.get("/ws/async/3")
    await a.close()
    await wait_for(lambda: not wsns.has("/ws/async/3"))
    assert ("empty", "/ws/async/3") in events
    b, _ = await join(server.ws("/ws/async/3"))
    assert wsns.get("/ws/async/3") is not first
    totals = wsns.stats()["totals"]
    assert (totals["namespaces_created"], totals["namespaces_dropped"]) == (2, 1)
    await b.close()


async def test_on_disconnect_sees_the_identity_with_the_count_already_updated(core):
    server, _, events = core
    a, welcome = await join(server.ws("/ws/async/4"))
    b, _ = await join(server.ws("/ws/async/4"))
    await a.close()
    await wait_for(lambda: any(kind == "disconnect" for kind, _ in events))
    [(client_id, identity, remaining)] = [data for kind, data in events if kind == "disconnect"]
    assert client_id == welcome["client_id"] and identity["user"] == "ann" and remaining == 1
    await b.close()


async def test_a_pattern_may_keep_its_namespaces_when_empty(core):
    server, wsns, _ = core
    ws, _ = await join(server.ws("/ws/kept/lobby"))
    await ws.close()
    await wait_for(lambda: wsns.stats()["totals"]["clients"] == 0)
    assert wsns.has("/ws/kept/lobby")


async def test_a_precreated_namespace_is_joined_by_the_first_client(core):
    server, wsns, _ = core
    ns = await wsns.create_namespace("/ws/async/0009")
    assert ns.path == "/ws/async/9" and wsns.get("/ws/async/9") is ns and len(ns) == 0
    ws, _ = await join(server.ws("/ws/async/9"))
    assert wsns.get("/ws/async/9") is ns and len(ns) == 1
    await ws.close()


async def test_create_namespace_refuses_a_path_no_pattern_matches(core):
    _, wsns, _ = core
    with pytest.raises(ValueError):
        await wsns.create_namespace("/nowhere/1")
    with pytest.raises(ValueError):
        await wsns.create_namespace("/ws/async/not-a-number")


async def test_remove_namespace_closes_its_clients_with_the_code_and_drops_it(core):
    server, wsns, _ = core
    a, _ = await join(server.ws("/ws/async/8"))
    b, _ = await join(server.ws("/ws/async/8"))
    other, _ = await join(server.ws("/ws/async/18"))
    await asyncio.to_thread(urllib.request.urlopen,
                            urllib.request.Request(server.http + "/remove/8", method="POST"), None, 5)
    assert await close_of(a) == (4410, "room deleted")
    assert await close_of(b) == (4410, "room deleted")
    assert not wsns.has("/ws/async/8") and wsns.has("/ws/async/18")
    again, _ = await join(server.ws("/ws/async/8"))  # re-created on the next connect
    assert len(wsns.get("/ws/async/8")) == 1
    await again.close()
    await other.close()


async def test_shutdown_closes_every_client_with_1001():
    app, wsns, _ = build_app()
    async with serve(app) as server:
        clients = [(await join(server.ws(f"/ws/async/{n}")))[0] for n in (1, 1, 2)]
        closing = [asyncio.create_task(close_of(ws)) for ws in clients]
    assert [(await c)[0] for c in closing] == [1001, 1001, 1001]
    assert len(wsns.registry) == 0 and wsns.registry.channels == frozenset()


async def test_a_client_is_admitted_only_once_its_namespace_subscription_is_confirmed():
    GatedBroker.confirm, GatedBroker.asked = asyncio.Event(), asyncio.Event()
    app, wsns, _ = build_app(broker=GatedBroker("memory://gated"))
    async with serve(app) as server:
        ws = await open_ws(server.ws("/ws/open/gated"))
        await asyncio.wait_for(GatedBroker.asked.wait(), 5)
        await wait_for(lambda: wsns.stats()["totals"]["connections"] == 1)  # past admission
        assert not wsns.has("/ws/open/gated") and wsns.stats()["totals"]["clients"] == 0
        GatedBroker.confirm.set()
        assert (await recv_json(ws))["type"] == "welcome"
        # from now on a publish by any instance reaches it: another broker on the same hub
        other = GatedBroker("memory://gated", lambda *_: None, lambda _: None)
        other.publish("wsns:/ws/open/gated", encode_relay(RelayMessage(
            "elsewhere", Kind.FRAME, ws_text_frame(encode("hello", 1)))))
        assert await recv_json(ws) == {"type": "hello", "data": 1}
        await ws.close()


async def test_a_namespace_is_kept_while_a_returning_client_reads_what_it_missed(monkeypatch):
    """The last client leaves while a returning client's history is being read: the
    namespace stays for it (dropped, it would hold the client where no broadcast arrives)."""
    monkeypatch.setattr(GatedBroker, "gated", "")
    GatedBroker.confirm, GatedBroker.asked = asyncio.Event(), asyncio.Event()
    async with instances("memory://gated", count=1, history=True, broker_class=GatedBroker) as (a,):
        leaving = await open_ws(a.ws("9"))
        position = (await recv_json(leaving))["data"]["position"]
        GatedBroker.gated = "read_history"
        returning = await open_ws(a.ws("9", f"since={position['offset']}&epoch={position['epoch']}"))
        await asyncio.wait_for(GatedBroker.asked.wait(), 5)
        await leaving.close()
        await wait_for(lambda: a.totals["connections"] == 1)  # the last client has left
        GatedBroker.confirm.set()
        assert (await recv_json(returning))["data"]["recovered"] is True
        assert a.wsns.has("/maps/9")
        await a.wsns.broadcast("/maps/9", "edited", "after")
        assert (await recv_json(returning))["data"] == "after"
        await returning.close()
        await wait_for(lambda: not a.wsns.has("/maps/9"))  # and it goes with its last client


async def test_shutdown_is_not_held_up_by_clients_that_do_not_read_and_they_still_get_1001():
    """Two clients stop reading with megabytes still queued for them (below max_send_queue),
    so a close frame sent the polite way would wait for them forever. They read again after
    the stop, within Sanic's close timeout (10 s), and find 1001 after their backlog."""
    timeout = 1.0
    app, wsns, _ = build_app(shutdown_timeout=timeout, max_send_queue=64 * 1024 * 1024)
    stack = AsyncExitStack()
    server = await stack.enter_async_context(serve(app))
    stuck = [(await join_sleeper(server.ws("/ws/open/stuck"), max_size=None))[0] for _ in range(2)]
    polite, _ = await join(server.ws("/ws/open/stuck"))
    for ws in stuck:
        ws.transport.pause_reading()
        await ws.send(json.dumps({"type": "big-to-me", "data": 8 * 1024 * 1024}))
    await wait_for(lambda: wsns.stats()["namespaces"]["/ws/open/stuck"]["messages_out"] == 2)
    polite_closed = asyncio.create_task(close_of(polite))
    await asyncio.wait_for(stack.aclose(), timeout + 5)  # bounded: the server has stopped
    assert (await polite_closed)[0] == 1001
    for ws in stuck:
        ws.transport.resume_reading()
    closes = await asyncio.gather(*(close_of(ws, timeout=20) for ws in stuck))
    assert [code for code, _ in closes] == [1001, 1001]  # after the frame queued before it
    assert wsns.stats()["totals"]["connections"] == 0


async def test_a_thousand_connect_disconnect_cycles_over_a_hundred_paths_leak_nothing():
    app, wsns, _ = build_app(unsubscribe_linger=0.05)
    async with serve(app) as server:
        tasks_before = len(asyncio.all_tasks())

        async def cycle(n: int) -> None:
            ws, _ = await join(server.ws(f"/ws/open/p{n % 100}"))
            await ws.close()

        for batch in range(10):
            await asyncio.gather(*(cycle(batch * 100 + i) for i in range(100)))
        await wait_for(lambda: len(wsns.registry) == 0 and wsns.registry.pending == 0, timeout=10)
        await wait_for(lambda: len(asyncio.all_tasks()) <= tasks_before, timeout=10)
        totals = wsns.stats()["totals"]
        assert totals["clients"] == 0 and totals["subscriptions"] == 0
        assert totals["connections_accepted"] == 1000
        assert totals["namespaces_created"] == totals["namespaces_dropped"] >= 100
        assert wsns.broker.stats()["subscriptions"] == 1  # the control channel, held from start


async def test_the_browser_client_is_served_with_an_etag(core):
    server, _, _ = core
    status, headers, body = await asyncio.to_thread(http_get, server.http + "/wsns/client.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and body
    status, _, _ = await asyncio.to_thread(http_get, server.http + "/wsns/client.js",
                                           {"If-None-Match": headers["ETag"]})
    assert status == 304


async def test_the_browser_clients_types_are_served_beside_it(core):
    server, _, _ = core
    status, headers, body = await asyncio.to_thread(http_get, server.http + "/wsns/client.d.ts")
    assert status == 200 and headers["Content-Type"].startswith("application/typescript")
    assert body == (Path(__file__).resolve().parents[3] / "js-client" / "wsns.d.ts").read_bytes()


async def test_the_stats_route_is_off_by_default(core):
    server, _, _ = core
    assert (await asyncio.to_thread(http_get, server.http + "/wsns/stats"))[0] == 404


async def test_the_stats_route_answers_only_when_its_authorizer_allows():
    app, wsns, _ = build_app(stats_url="/wsns/stats")
    async with serve(app) as server:
        assert (await asyncio.to_thread(http_get, server.http + "/wsns/stats"))[0] == 403

        @wsns.authorize_stats
        def only_admins(request):
            if request.headers.get("x-admin") != "yes":
                raise Unauthorized("admins only")
            return True

        assert (await asyncio.to_thread(http_get, server.http + "/wsns/stats"))[0] == 401
        ws, _ = await join(server.ws("/ws/async/1"))
        status, _, body = await asyncio.to_thread(http_get, server.http + "/wsns/stats", {"X-Admin": "yes"})
        stats = json.loads(body)
        assert status == 200 and stats["instance"] == wsns.instance_id
        assert stats["namespaces"]["/ws/async/1"]["clients"] == 1
        assert stats["broker"]["connected"] is True
        await ws.close()


async def test_stats_count_messages_in_and_out_per_namespace(core):
    server, wsns, _ = core
    a, _ = await join(server.ws("/ws/open/count"))
    b, _ = await join(server.ws("/ws/open/count"))
    await a.send('{"type": "add", "data": {"a": 1, "b": 1}, "id": 1}')
    await recv_json(a)
    await recv_json(a)
    await recv_json(b)
    ns_stats = wsns.stats()["namespaces"]["/ws/open/count"]
    assert ns_stats["clients"] == 2 and ns_stats["messages_in"] == 1 and ns_stats["messages_out"] == 3
    await a.close()
    await b.close()


async def test_a_refused_connect_never_reaches_the_handlers(core):
    server, wsns, events = core
    ws = await open_ws(server.ws("/ws/async/403"))
    await close_of(ws)
    assert events == [] and wsns.stats()["totals"]["connections_refused"] == {"forbidden": 1}
