"""SSE streams and POSTs across two instances (memory:// and Redis): recovery from
``Last-Event-ID`` with publishes in flight, POSTs taken by the instance that does not hold
the stream, ``exclude`` of a stream, shutdown and slow consumers ending the stream."""

from __future__ import annotations

import asyncio
from typing import Any

from sanic_wsns import History
from sanic_wsns.client_tokens import ClientTokens
from tests.support.instances import Instance, build, frame, instances, raw_client
from tests.support.ports import free_port
from tests.support.servers import serve, wait_for
from tests.support.sse_reader import Event, Stream, open_stream, post_frame

SSE = "/wsns/sse"
SECRET = "shared-by-the-instances"


async def stream_on(instance: Instance, map_id: str, headers: dict[str, str] | None = None,
                    **kwargs: Any) -> tuple[Stream, dict[str, Any]]:
    """A stream of ``/maps/<map_id>`` on ``instance``, past its welcome (its data)."""
    srv = instance.srv
    stream = await open_stream(srv.host, srv.port, f"{SSE}/maps/{map_id}", headers, **kwargs)
    assert stream.status == 200, stream.body
    welcome = await stream.next()
    assert welcome.type == "welcome", welcome
    return stream, welcome.frame["data"]


def add_handlers(instance: Instance) -> None:
    maps = instance.wsns.patterns[0]

    @maps.on("say")
    async def say(ns: Any, client: Any, data: Any) -> str:
        await ns.broadcast("said", data, exclude=client)
        await client.send("echo", data)
        return client.id


def offsets(events: list[Event]) -> list[int]:
    return [e.frame["offset"] for e in events]


async def test_a_stream_resumes_on_another_instance_from_last_event_id_while_publishes_go_on(broker):
    async with instances(broker, history=History(size=1000), sse_secret=SECRET) as (a, b):
        total, read_first = 300, 40
        stream, _ = await stream_on(a, "1")
        publishing = asyncio.get_running_loop().create_task(
            _publish(a, "/maps/1", total))  # in flight while the stream moves
        first = [await stream.next() for _ in range(read_first)]
        await stream.close()
        assert first[-1].id == stream.last_id and stream.last_id.endswith(f":{read_first}")
        resumed, welcome = await stream_on(b, "1", {"Last-Event-ID": stream.last_id})
        assert welcome["recovered"] is True
        rest = [await resumed.next() for _ in range(total - read_first)]
        assert offsets(first + rest) == list(range(1, total + 1))  # consecutive, no duplicate
        assert [e.id for e in rest] == [f"{welcome['position']['epoch']}:{n}"
                                         for n in range(read_first + 1, total + 1)]
        await publishing
        await resumed.close()


async def _publish(instance: Instance, path: str, count: int) -> None:
    for n in range(count):
        await instance.wsns.broadcast(path, "edited", n)


async def test_a_garbage_last_event_id_gets_an_invalid_position_resync_not_an_error(broker):
    async with instances(broker, history=True, sse_secret=SECRET) as (a, _):
        for garbage in ("nonsense", "e:-1", "e:1e9", "x" * 200):
            stream, welcome = await stream_on(a, "2", {"Last-Event-ID": garbage})
            assert welcome["recovered"] is False
            assert (await stream.next()).frame["data"]["reason"] == "invalid_position"
            await stream.close()


async def test_a_post_on_the_instance_without_the_stream_acts_for_that_stream(broker):
    async with instances(broker, sse_secret=SECRET) as (a, b):
        for instance in (a, b):
            add_handlers(instance)
        stream, welcome = await stream_on(a, "3")
        async with raw_client(a.ws("3")) as on_a, raw_client(b.ws("3")) as on_b:
            answer = await post_frame(b.srv, f"{SSE}/maps/3", {"type": "say", "data": "hi", "id": 1},
                                      welcome["client_token"])
            assert answer.status == 200, answer.body
            assert answer.data == {"reply": {"type": "reply", "data": welcome["client_id"], "id": 1},
                                   "frames": [{"type": "echo", "data": "hi"}]}
            assert await frame(on_a) == await frame(on_b) == {"type": "said", "data": "hi"}
            await on_b.send('{"type":"say","data":"from b"}')
            # The stream was excluded from its own broadcast: the next event is the other one.
            assert (await stream.next()).frame == {"type": "said", "data": "from b"}
        await stream.close()


async def test_a_stream_ends_at_shutdown_and_resumes_elsewhere_with_last_event_id(broker):
    async with instances(broker, count=1, history=True, sse_secret=SECRET) as (b,):
        wsns = build(broker, history=True, sse_secret=SECRET)
        async with serve(wsns.app) as srv:
            a = Instance(wsns, srv)
            stream, _ = await stream_on(a, "4")
            await b.wsns.broadcast("/maps/4", "edited", "seen")
            assert (await stream.next()).frame["data"] == "seen"
        # ``serve`` stopped instance a: its streams were told 1001 and ended.
        ended = await stream.ended()
        assert [(e.type, e.frame["data"]["code"]) for e in ended] == [("close", 1001)]
        for n in range(3):
            await b.wsns.broadcast("/maps/4", "edited", n)
        resumed, welcome = await stream_on(b, "4", {"Last-Event-ID": stream.last_id})
        assert welcome["recovered"] is True
        assert [(await resumed.next()).frame["data"] for _ in range(3)] == [0, 1, 2]
        await resumed.close()


async def test_a_stream_that_stops_reading_is_cut_and_others_are_served(broker):
    queue = 64 * 1024
    async with instances(broker, max_send_queue=queue, sse_secret=SECRET) as (a, _):
        srv = a.srv
        sleeper = await open_stream(srv.host, srv.port, f"{SSE}/maps/5", sleeper=True)
        async with raw_client(a.ws("5")) as reader:
            big = "x" * 16_384
            sent = 0
            # Bounded: the sleeper's kernel buffers plus the 64 KiB queue are far below 200
            # frames of 16 KiB (3.2 MB); the server must have cut it long before.
            while a.totals["dropped"].get("slow_consumer", 0) == 0:
                assert sent < 200, "the stream that does not read was never cut"
                await a.wsns.broadcast("/maps/5", "edited", big)
                sent += 1
                assert (await frame(reader))["data"] == big  # the other client is served meanwhile
            await wait_for(lambda: a.totals["clients"] == 1)
        sleeper.writer.close()


async def test_instances_without_a_secret_agree_on_one_through_redis(redis_server):
    """Zero configuration: the first instance to start stores a secret in Redis, the others
    read it, so a POST reaching the instance without the stream is taken at once."""
    async with instances(redis_server.url, count=2) as (a, b):
        add_handlers(b)
        stream, welcome = await stream_on(a, "8")
        answer = await post_frame(b.srv, f"{SSE}/maps/8", {"type": "say", "data": "hi", "id": 1},
                                  welcome["client_token"])
        assert answer.status == 200, answer.body
        assert answer.data["reply"] == {"type": "reply", "data": welcome["client_id"], "id": 1}
        await stream.close()


async def test_an_instance_that_cannot_reach_redis_at_start_says_its_posts_stay_local(caplog):
    async with instances(f"redis://127.0.0.1:{free_port()}/0", count=1) as (a,):
        _, welcome = await stream_on(a, "10")  # it serves streams all the same
        assert welcome["client_token"].startswith(welcome["client_id"] + ".")
    assert any("no secret could be shared through the broker" in r.getMessage() for r in caplog.records)


async def test_an_explicit_secret_wins_over_the_one_kept_in_redis(redis_server):
    async with instances(redis_server.url, count=1):  # stores a secret in Redis
        pass
    async with instances(redis_server.url, count=1, sse_secret=SECRET) as (a,):
        add_handlers(a)
        _, welcome = await stream_on(a, "9")
        assert ClientTokens(SECRET.encode()).client_id(welcome["client_token"], "/maps/9",
                                                        "anyone") == welcome["client_id"]


async def test_a_first_request_may_ask_with_since_and_epoch_and_the_welcome_carries_its_position(broker):
    async with instances(broker, history=True, sse_secret=SECRET) as (a, b):
        first = await a.wsns.broadcast("/maps/6", "edited", "one")
        await a.wsns.broadcast("/maps/6", "edited", "two")
        stream, welcome = await stream_on(b, f"6?since={first.offset}&epoch={first.epoch}")
        assert welcome["recovered"] is True
        # Written with its missed frames in one write, the welcome still carries the token.
        assert welcome["client_token"].startswith(welcome["client_id"] + ".")
        assert stream.last_id == f"{first.epoch}:{first.offset}"  # the welcome's id
        missed = await stream.next()
        assert (missed.frame["data"], missed.id) == ("two", f"{first.epoch}:{first.offset + 1}")
        await stream.close()


async def test_a_keyed_post_repeated_on_the_other_instance_gets_the_first_answer(broker):
    runs: list[Any] = []
    async with instances(broker, sse_secret=SECRET) as (a, b):
        for instance in (a, b):
            @instance.wsns.patterns[0].on("order")
            async def order(ns: Any, client: Any, data: Any) -> int:
                runs.append(data)
                return len(runs)

        _, welcome = await stream_on(a, "7")
        frame_ = {"type": "order", "data": "tea", "id": 1, "key": "order-1"}
        first = await post_frame(a.srv, f"{SSE}/maps/7", frame_, welcome["client_token"])
        again = await post_frame(b.srv, f"{SSE}/maps/7", {**frame_, "id": 2}, welcome["client_token"])
        assert first.data["reply"] == {"type": "reply", "data": 1, "id": 1}
        assert again.data["reply"] == {"type": "reply", "data": 1, "id": 2}
        assert runs == ["tea"]
