"""Request keys on ``memory://``: a keyed request's handler runs at most once per (namespace,
user, key) within the window; a repeat gets the first answer (core idea 12)."""

from __future__ import annotations

import asyncio
import json

from tests.support.keyed_app import Runs, keyed, keyed_app
from tests.support.servers import serve
from tests.support.wsclient import join, recv_json


async def test_a_repeated_key_gets_the_first_reply_and_the_handler_runs_once() -> None:
    runs = Runs()
    async with serve(keyed_app("memory://keys-once", runs).app) as srv:
        ws, _ = await join(srv.ws("/orders/1"))
        first = await keyed(ws, "apply", "k-1", 1, {"qty": 2})
        assert first == {"type": "reply", "id": 1, "data": {"run": 1, "data": {"qty": 2}}}
        await ws.close()
        again, _ = await join(srv.ws("/orders/1"))  # a new connection: the reconnect case
        repeat = await keyed(again, "apply", "k-1", 7, {"qty": 2})
        assert repeat == {"type": "reply", "id": 7, "data": {"run": 1, "data": {"qty": 2}}}
        assert runs.counts == {"apply": 1}
        other = await keyed(again, "apply", "k-2", 8)
        assert other["data"]["run"] == 2  # another key runs
        await again.close()


async def test_an_error_answer_is_kept_and_replayed_too() -> None:
    runs = Runs()
    async with serve(keyed_app("memory://keys-error", runs).app) as srv:
        ws, _ = await join(srv.ws("/orders/1"))
        first = await keyed(ws, "refuse", "r", 1)
        repeat = await keyed(ws, "refuse", "r", 2)
        assert first["type"] == repeat["type"] == "error"
        assert repeat["data"] == first["data"] == {"code": "conflict", "message": "already taken",
                                                    "details": {"run": 1}}
        assert repeat["id"] == 2
        assert runs.counts == {"refuse": 1}
        await ws.close()


async def test_keys_are_per_user_and_per_namespace() -> None:
    runs = Runs()
    async with serve(keyed_app("memory://keys-scope", runs).app) as srv:
        ann, _ = await join(srv.ws("/orders/1?user=ann"))
        bob, _ = await join(srv.ws("/orders/1?user=bob"))
        elsewhere, _ = await join(srv.ws("/orders/2?user=ann"))
        answers = [await keyed(ws, "apply", "same", 1) for ws in (ann, bob, elsewhere)]
        assert [a["data"]["run"] for a in answers] == [1, 2, 3]
        for ws in (ann, bob, elsewhere):
            await ws.close()


async def test_a_repeat_while_the_first_runs_waits_for_its_answer() -> None:
    runs = Runs()
    async with serve(keyed_app("memory://keys-wait", runs).app) as srv:
        first, _ = await join(srv.ws("/orders/1"))
        second, _ = await join(srv.ws("/orders/1"))
        await first.send(json.dumps({"type": "hold", "id": 1, "key": "h"}))
        await asyncio.wait_for(runs.holding.wait(), 5)
        await second.send(json.dumps({"type": "hold", "id": 2, "key": "h"}))
        runs.gate.set()
        answers = [await recv_json(first), await recv_json(second)]
        assert [(a["id"], a["data"]) for a in answers] == [(1, 1), (2, 1)]
        assert runs.counts == {"hold": 1}
        await first.close()
        await second.close()


async def test_a_key_is_forgotten_after_the_window() -> None:
    runs = Runs()
    async with serve(keyed_app("memory://keys-window", runs, idempotency_window=0.2).app) as srv:
        ws, _ = await join(srv.ws("/orders/1"))
        assert (await keyed(ws, "apply", "w", 1))["data"]["run"] == 1
        await asyncio.sleep(0.3)  # the window itself is what is under test
        assert (await keyed(ws, "apply", "w", 2))["data"]["run"] == 2
        await ws.close()


async def test_a_key_without_an_id_or_of_the_wrong_shape_is_an_invalid_message() -> None:
    runs = Runs()
    async with serve(keyed_app("memory://keys-bad", runs).app) as srv:
        ws, _ = await join(srv.ws("/orders/1"))
        await ws.send(json.dumps({"type": "apply", "key": "k"}))
        answer = await recv_json(ws)
        assert answer["type"] == "error" and answer["data"]["code"] == "invalid_message"
        assert "key needs an id" in answer["data"]["message"]
        for bad in ("", "x" * 65, "no spaces", "ключ"):
            answer = await keyed(ws, "apply", bad, 3)
            assert answer["type"] == "error" and answer["data"]["code"] == "invalid_message", bad
        assert runs.counts == {}
        await ws.close()
