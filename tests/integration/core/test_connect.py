"""Connecting: get-or-create, authorization before anything exists, origin and params."""

import asyncio

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.core_app import build_app
from tests.support.servers import serve, wait_for
from tests.support.wsclient import close_of, join, open_ws, recv_json


async def test_first_client_creates_the_namespace_and_later_ones_join_it(core):
    server, wsns, _ = core
    assert not wsns.has("/ws/async/1")
    a, welcome_a = await join(server.ws("/ws/async/1"))
    ns = wsns.get("/ws/async/1")
    b, welcome_b = await join(server.ws("/ws/async/1"))
    assert wsns.get("/ws/async/1") is ns and len(ns) == 2
    assert welcome_a["client_id"] != welcome_b["client_id"]
    assert wsns.stats()["totals"]["namespaces_created"] == 1
    await a.close()
    await b.close()


async def test_welcome_states_path_params_limits_and_only_the_public_identity(core):
    server, _, _ = core
    ws, welcome = await join(server.ws("/ws/async/0007"))
    assert welcome["path"] == "/ws/async/7" and welcome["params"] == {"room": 7}
    assert welcome["public"] == {"name": "ann"}
    assert welcome["limits"] == {"max_frame_size": 65536, "rate_limit": 50.0, "rate_burst": 100}
    assert welcome["heartbeat_interval"] > 0 and welcome["protocol"] == 1
    assert "s3cret-token" not in str(welcome)
    await ws.close()


async def test_private_identity_stays_on_the_server_but_handlers_can_read_it(core):
    server, _, _ = core
    a, _ = await join(server.ws("/ws/async/2"))
    b, _ = await join(server.ws("/ws/async/2"))
    await a.send('{"type": "whoami", "id": 1}')
    reply = await recv_json(a)
    assert reply["data"]["identity"]["token"] == "s3cret-token"
    assert all("token" not in str(m) for m in reply["data"]["members"])
    await a.send('{"type": "add", "data": {"a": 1, "b": 1}}')
    frame = await recv_json(b)
    assert frame == {"type": "added", "data": 2} and "s3cret" not in str(frame)
    await a.close()
    await b.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("room, code", [(401, 4401), (403, 4403), (404, 4404), (500, 1011)])
async def test_a_denied_upgrade_closes_with_its_code_and_creates_nothing(core, kind, room, code):
    server, wsns, events = core
    ws = await open_ws(server.ws(f"/ws/{kind}/{room}"))
    close_code, reason = await close_of(ws)
    assert close_code == code and reason
    totals = wsns.stats()["totals"]
    assert totals["namespaces_created"] == 0 and totals["clients"] == 0
    assert totals["connections_accepted"] == 0 and sum(totals["connections_refused"].values()) == 1
    assert events == []


async def test_a_path_outside_every_patterns_first_segment_is_an_http_404_logged_once_per_path(core, caplog):
    """Under a pattern's first segment (``/ws/``) it is closed with 1008: test_unmatched.py."""
    server, wsns, _ = core
    for _ in range(3):
        with pytest.raises(InvalidStatus) as refused:
            await open_ws(server.ws("/elsewhere/1"))
        assert refused.value.response.status_code == 404
    assert len(wsns.registry) == 0
    logged = [r.getMessage() for r in caplog.records if "/elsewhere/1" in r.getMessage()]
    assert len(logged) == 1 and "matches no namespace pattern (HTTP 404" in logged[0]


@pytest.mark.parametrize("path", ["/ws/user/abc", "/ws/user/1/extra", "/ws/sync/1.5"])
async def test_a_path_under_a_pattern_whose_params_do_not_parse_is_closed_1008(core, path):
    """A browser cannot read a 404 (it sees 1006 and retries); 1008 is final for it."""
    server, wsns, _ = core
    closed = await close_of(await open_ws(server.ws(path)))
    assert closed == (1008, "bad path: no namespace pattern matches it")
    assert len(wsns.registry) == 0
    assert wsns.stats()["totals"]["connections_refused"] == {"bad_request": 1}


async def test_a_param_over_the_length_limit_is_refused_with_1008(core):
    server, wsns, _ = core
    ws = await open_ws(server.ws("/ws/open/" + "x" * 201))
    assert (await close_of(ws))[0] == 1008
    assert len(wsns.registry) == 0


async def test_a_10000_character_param_is_refused_and_the_server_carries_on(core):
    server, wsns, _ = core
    with pytest.raises(InvalidStatus) as refused:  # Sanic refuses the oversized request head itself
        await open_ws(server.ws("/ws/open/" + "x" * 10_000))
    assert refused.value.response.status_code == 413
    assert len(wsns.registry) == 0
    ws, welcome = await join(server.ws("/ws/open/fine"))
    assert welcome["path"] == "/ws/open/fine"
    await ws.close()


@pytest.mark.parametrize("origin, allowed", [
    ("http://evil.example", False),
    ("null", False),
    ("http://127.0.0.1:{port}", True),
    ("http://127.0.0.1:1", False),
    (None, True),
])
async def test_a_foreign_origin_is_closed_with_4403_and_creates_nothing(core, origin, allowed):
    server, wsns, _ = core
    ws = await open_ws(server.ws("/ws/async/1"), origin=origin and origin.format(port=server.port))
    if allowed:
        assert (await recv_json(ws))["type"] == "welcome"
        await ws.close()
    else:
        assert await close_of(ws) == (4403, "origin not allowed")
        assert len(wsns.registry) == 0 and wsns.stats()["totals"]["connections_accepted"] == 0


async def test_origins_on_the_allow_list_are_accepted():
    app, _, _ = build_app(allowed_origins=["https://partner.example"])
    async with serve(app) as server:
        ws = await open_ws(server.ws("/ws/async/1"), origin="https://partner.example")
        assert (await recv_json(ws))["type"] == "welcome"
        await ws.close()


async def test_many_simultaneous_first_clients_share_one_namespace(core):
    server, wsns, _ = core
    joined = await asyncio.gather(*(join(server.ws("/ws/async/77")) for _ in range(20)))
    assert wsns.stats()["totals"]["namespaces_created"] == 1
    assert len(wsns.get("/ws/async/77")) == 20
    await asyncio.gather(*(ws.close() for ws, _ in joined))


async def test_over_namespace_capacity_a_connect_is_refused_with_1013():
    app, wsns, _ = build_app(max_namespaces=1)
    async with serve(app) as server:
        first, _ = await join(server.ws("/ws/async/1"))
        second = await open_ws(server.ws("/ws/async/2"))
        assert (await close_of(second))[0] == 1013
        third, _ = await join(server.ws("/ws/async/1"))  # joining a hosted one still works
        assert wsns.stats()["totals"]["connections_refused"] == {"over_capacity": 1}
        await first.close()
        await third.close()


async def test_on_connect_may_deny_with_a_close_code():
    app, wsns, _ = build_app()
    gate = wsns.pattern("/ws/gate/<n:int>")

    @gate.on_connect
    async def check(ns, client):
        from sanic_wsns import Forbidden
        raise Forbidden("banned from this room")

    async with serve(app) as server:
        ws = await open_ws(server.ws("/ws/gate/1"))
        assert (await recv_json(ws))["type"] == "welcome"
        assert await close_of(ws) == (4403, "banned from this room")
        await wait_for(lambda: len(wsns.registry) == 0)


async def test_over_the_per_identity_cap_a_connect_is_closed_1013_and_others_still_connect():
    app, wsns, _ = build_app(max_connections_per_identity=2)
    async with serve(app) as server:
        ann = [(await join(server.ws(f"/ws/user/{room}?user=ann")))[0] for room in (1, 2)]
        third = await open_ws(server.ws("/ws/user/3?user=ann"))
        assert await close_of(third) == (1013, "too many connections")
        assert not wsns.has("/ws/user/3")  # refused before get-or-create
        bob, _ = await join(server.ws("/ws/user/3?user=bob"))
        totals = wsns.stats()["totals"]
        assert totals["connections_refused"] == {"over_capacity": 1}
        assert totals["connections_accepted"] == 3 and totals["connections"] == 3
        await ann[0].close()
        await wait_for(lambda: wsns.stats()["totals"]["connections"] == 2)
        again, _ = await join(server.ws("/ws/user/3?user=ann"))  # the slot came back
        for ws in (ann[1], bob, again):
            await ws.close()
        await wait_for(lambda: wsns.stats()["totals"]["connections"] == 0)


async def test_the_per_identity_cap_counts_the_user_behind_finer_identities():
    app, wsns, _ = build_app(max_connections_per_identity=2)
    async with serve(app) as server:
        tabs = [(await join(server.ws(f"/ws/session/1?user=ann&session=s{n}")))[0] for n in (1, 2)]
        third = await open_ws(server.ws("/ws/session/1?user=ann&session=s3"))
        assert await close_of(third) == (1013, "too many connections")
        await tabs[0].close()
        await wait_for(lambda: wsns.stats()["totals"]["connections"] == 1)
        again, _ = await join(server.ws("/ws/session/1?user=ann&session=s3"))  # the slot came back
        for ws in (tabs[1], again):
            await ws.close()


async def test_over_the_instance_cap_a_connect_is_closed_1013_whoever_it_is():
    app, wsns, _ = build_app(max_connections=2)
    async with serve(app) as server:
        first, _ = await join(server.ws("/ws/open/a"))
        second, _ = await join(server.ws("/ws/user/1?user=bob"))
        for url in (server.ws("/ws/open/a"), server.ws("/ws/user/1?user=cy")):
            assert await close_of(await open_ws(url)) == (1013, "too many connections")
        await first.close()
        await wait_for(lambda: wsns.stats()["totals"]["connections"] == 1)
        third, _ = await join(server.ws("/ws/open/b"))
        await second.close()
        await third.close()


async def test_many_simultaneous_connects_of_one_identity_never_exceed_its_cap():
    app, _, _ = build_app(max_connections_per_identity=5)
    async with serve(app) as server:
        attempts = await asyncio.gather(*(open_ws(server.ws(f"/ws/user/{n % 3}?user=ann"))
                                          for n in range(20)))
        frames = await asyncio.gather(*(recv_json(ws) for ws in attempts), return_exceptions=True)
        admitted = [ws for ws, f in zip(attempts, frames, strict=True) if isinstance(f, dict)]
        assert len(admitted) == 5 and all(ws.close_code == 1013 for ws in attempts if ws not in admitted)
        for ws in admitted:
            await ws.close()


async def test_an_unhashable_identity_under_a_per_identity_cap_is_refused_1011_with_a_log(caplog):
    app, wsns, _ = build_app(max_connections_per_identity=3)  # /ws/sync returns a dict identity
    async with serve(app) as server:
        assert await close_of(await open_ws(server.ws("/ws/sync/1"))) == (1011, "internal error")
        assert "hashable identity" in caplog.text and not wsns.has("/ws/sync/1")


async def test_a_header_that_is_not_printable_ascii_is_not_a_500(core):
    """websockets' handshake refuses such a value (Sanic answered HTTP 500 before any hook
    ran); its bad characters are replaced and the upgrade goes on."""
    server, _, _ = core
    ws, welcome = await join(server.ws("/ws/open/hdr"), additional_headers={"X-Note": "caf\u00e9"})
    assert welcome["path"] == "/ws/open/hdr"
    await ws.close()
