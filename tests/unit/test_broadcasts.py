"""``broadcasts.Broadcasts``: out to the broker and back, without Sanic (memory broker, a
namespace that records what it was given)."""

import asyncio
import json
import uuid
from functools import partial
from typing import Any

from sanic_wsns.broadcasts import Broadcasts
from sanic_wsns.broker.memory import MemoryBroker
from sanic_wsns.config import load_settings
from sanic_wsns.feed import Feed as RealFeed
from sanic_wsns.history import History
from sanic_wsns.instance_stats import InstanceStats
from sanic_wsns.recovery import Position

PATH = "/rooms/1"


class Namespace:
    feed = None

    def __init__(self) -> None:
        self.frames: list[tuple[bytes, tuple[str, ...]]] = []

    def deliver(self, frame: bytes, exclude: tuple[str, ...] = ()) -> None:
        self.frames.append((frame, exclude))

    def data(self) -> list[object]:
        return [json.loads(frame[2:])["data"] for frame, _ in self.frames]  # small frames: 2-byte header


class RepliesLater(MemoryBroker):
    """``memory://`` numbering at the call, as Redis' outbox queues at the call, with its
    answer a turn of the loop later, as Redis' reply comes later."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.answers: list[asyncio.Future[Position]] = []

    def publish_numbered(self, *args: Any, **kwargs: Any) -> asyncio.Future[Position]:
        numbered = super().publish_numbered(*args, **kwargs)
        answer: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(answer.set_result, numbered.result())
        self.answers.append(answer)
        return answer


class Instance:
    def __init__(self, url: str, name: str, broker: type[MemoryBroker] = MemoryBroker) -> None:
        self.hosted: dict[str, Namespace] = {}
        self.removed: list[tuple[str, int, str]] = []
        self.counts = InstanceStats()
        self.broker = broker(url)
        self.out = Broadcasts(name, load_settings({}, {}), self.hosted, self.counts,  # type: ignore[arg-type]
                              lambda: self.broker, lambda: None, lambda: None,
                              lambda *removal: self.removed.append(removal), lambda *_: None,
                              lambda work, name: asyncio.get_running_loop().create_task(work, name=name))
        self.broker.register(self.out.on_relay, self.out.on_restored)

    async def host(self, path: str) -> Namespace:
        ns = self.hosted[path] = Namespace()
        await self.broker.subscribe(self.out.channel(path))
        return ns


async def relayed() -> None:
    """The memory broker hands payloads on with ``call_soon``: one turn of the loop runs
    every one queued before it (no timing involved)."""
    await asyncio.sleep(0)


async def pair() -> tuple[Instance, Instance]:
    url = f"memory://{uuid.uuid4().hex}"
    a, b = Instance(url, "a"), Instance(url, "b")
    await a.broker.connect()
    await b.broker.connect()
    return a, b


async def test_a_broadcast_is_written_here_once_and_relayed_to_the_other_instance():
    a, b = await pair()
    here, there = await a.host(PATH), await b.host(PATH)
    a.out.publish(PATH, "said", "hi", exclude="a-1")
    await relayed()
    assert here.data() == ["hi"] and here.frames[0][1] == ("a-1",)  # not again from the broker
    assert there.frames == here.frames


async def test_what_the_broker_brings_for_no_hosted_namespace_is_counted_and_dropped():
    a, b = await pair()
    await a.host(PATH)
    await b.broker.subscribe(b.out.channel(PATH))  # a lingering subscription
    a.out.publish(PATH, "said", "hi")
    await relayed()
    assert b.counts.unhosted_payloads == 1


async def test_an_undecodable_payload_is_logged_and_ignored(caplog):
    a, _ = await pair()
    ns = await a.host(PATH)
    a.out.on_relay(a.out.channel(PATH), b"\xff not a relay message")
    assert ns.frames == [] and "undecodable broker message" in caplog.text


async def test_a_removal_reaches_the_other_instance_s_handler():
    a, b = await pair()
    await a.host(PATH)
    await b.host(PATH)
    a.out.relay_remove(PATH, 4410, "gone")
    await relayed()
    assert b.removed == [(PATH, 4410, "gone")] and a.removed == []


class Feed:
    def __init__(self) -> None:
        self.restores = 0

    def restored(self) -> None:
        self.restores += 1


async def test_when_the_broker_is_back_a_history_namespace_reads_what_it_missed_the_others_resync():
    a, _ = await pair()
    plain, numbered = await a.host(PATH), await a.host("/rooms/2")
    numbered.feed = Feed()  # type: ignore[assignment]
    a.out.on_restored([a.out.channel(PATH), a.out.channel("/rooms/2"), a.out.channel("/rooms/3")])
    assert [json.loads(frame[2:]) for frame, _ in plain.frames] == [
        {"type": "resync", "data": {"reason": "broker_lost"}}]
    assert numbered.feed.restores == 1 and numbered.frames == []  # type: ignore[attr-defined]
    assert a.counts.resyncs == {"broker_lost": 1}


async def test_a_history_broadcast_reaches_this_instance_s_clients_from_the_numbering_s_reply():
    """Served from the reply, before the echo comes back over the link (the memory broker
    hands it on only at the loop's next turn); the echo is then dropped, not written twice."""
    a, b = await pair()
    here, there = await a.host(PATH), await b.host(PATH)
    for ns, instance in ((here, a), (there, b)):
        read = partial(instance.broker.read_history, instance.out.channel(PATH), history=History())
        ns.feed = RealFeed(read, ns.deliver, PATH, instance.counts)  # type: ignore[assignment]
        ns.feed.start((await read(0))[0])
    position = await a.out.broadcast(History(), PATH, "said", "hi", exclude="a-1")
    assert position is not None and [json.loads(f[2:])["offset"] for f, _ in here.frames] == [1]
    assert here.frames[0][1] == ("a-1",)
    await relayed()
    assert here.frames == there.frames  # once each, the same bytes


def with_feed(ns: Namespace, instance: Instance) -> Any:
    """Give ``ns`` a real ``Feed`` over ``instance``'s broker; returns how to start it."""
    read = partial(instance.broker.read_history, instance.out.channel(PATH), history=History())
    ns.feed = RealFeed(read, ns.deliver, PATH, instance.counts)  # type: ignore[assignment]
    return read


async def test_an_unawaited_history_broadcast_is_served_here_from_the_numbering_s_reply():
    """Nobody awaits it, and no echo comes back (this instance holds no subscription of
    the channel): the reply alone serves its clients, in call order."""
    a = Instance(f"memory://{uuid.uuid4().hex}", "a", RepliesLater)
    await a.broker.connect()
    here = a.hosted[PATH] = Namespace()
    read = with_feed(here, a)
    here.feed.start((await read(0))[0])  # type: ignore[attr-defined]
    for n in range(3):
        a.out.broadcast(History(), PATH, "said", n)
    assert here.frames == []  # not before the broker answered
    await asyncio.wait(a.broker.answers)  # type: ignore[attr-defined]
    assert [json.loads(f[2:])["offset"] for f, _ in here.frames] == [1, 2, 3]
    assert here.data() == [0, 1, 2]


async def test_a_broadcast_handle_goes_where_the_coroutine_went_create_task_and_task_groups():
    """Code written when ``broadcast`` was ``async def`` hands it to asyncio's task APIs:
    they take the handle, run it, and give its position."""
    a = Instance(f"memory://{uuid.uuid4().hex}", "a", RepliesLater)
    await a.broker.connect()
    here = a.hosted[PATH] = Namespace()
    read = with_feed(here, a)
    here.feed.start((await read(0))[0])  # type: ignore[attr-defined]
    task = asyncio.create_task(a.out.broadcast(History(), PATH, "said", 0))
    async with asyncio.TaskGroup() as group:
        grouped = group.create_task(a.out.broadcast(History(), PATH, "said", 1))
    assert (await asyncio.wait_for(task, 5)).offset == 1
    assert grouped.result().offset == 2
    assert here.data() == [0, 1]
