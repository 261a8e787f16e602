"""The presence tracker across instances sharing one memory:// broker (no sockets).

Each ``Instance`` here is the tracker plus the few lines of hub glue it needs: announce on
the broker, hear other instances' diffs, deliver frames to its clients.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from sanic_wsns.broker.memory import MemoryBroker
from sanic_wsns.relay import Kind, RelayMessage, decode_relay, encode_relay
from sanic_wsns.tracker import Tracker

CHANNEL = "wsns:/rooms/1"
_urls = itertools.count()


class Client:
    def __init__(self, id: str):
        self.id, self.frames = id, []

    def write(self, frame: bytes) -> bool:
        self.frames.append(json.loads(frame[4:] if frame[1] == 126 else frame[2:]))
        return True

    def of(self, type: str) -> list[dict]:
        return [f["data"] for f in self.frames if f["type"] == type]

    def view(self) -> dict:
        """Who this client believes is here: its state, then every diff, applied once."""
        seen: dict = {}
        for frame in self.frames:
            if frame["type"] == "presence_state":
                seen = dict(frame["data"])
            elif frame["type"] == "presence_diff":
                for cid, public in frame["data"]["joins"].items():
                    assert cid not in seen, f"{self.id} was told twice that {cid} joined"
                    seen[cid] = public
                for cid in frame["data"]["leaves"]:
                    assert cid in seen, f"{self.id} was told {cid} left without a join"
                    del seen[cid]
        return seen


class Instance:
    def __init__(self, url: str, name: str, ttl: float = 60.0):
        self.name = name
        self.broker = MemoryBroker(url, self.on_message, lambda channels: None)
        self.tracker = Tracker(self.broker, self.announce, ttl=ttl, window=0.02)
        self.clients: dict[str, Client] = {}

    async def start(self):
        await self.broker.connect()
        await self.broker.subscribe(CHANNEL)
        self.tracker.open(CHANNEL, self.deliver)
        await self.tracker.load(CHANNEL)

    def announce(self, channel, joins, leaves):
        self.broker.publish(channel, encode_relay(RelayMessage(
            self.name, Kind.PRESENCE, joins=tuple(joins), leaves=tuple(leaves))))

    def on_message(self, channel, payload):
        message = decode_relay(payload)
        if message.origin != self.name and message.kind is Kind.PRESENCE:
            self.tracker.heard(channel, message.joins, message.leaves)

    def deliver(self, frame, exclude=()):
        for client in self.clients.values():
            if client.id not in exclude:
                client.write(frame)

    def join(self, cid: str, name: str) -> Client:
        client = self.clients[cid] = Client(cid)
        self.tracker.join(CHANNEL, client, {"name": name})
        return client

    def leave(self, cid: str) -> None:
        del self.clients[cid]
        self.tracker.leave(CHANNEL, cid)


@pytest.fixture
async def pair():
    url = f"memory://tracker-{next(_urls)}"
    a, b = Instance(url, "a"), Instance(url, "b")
    await a.start()
    await b.start()
    yield a, b
    for instance in (a, b):
        await instance.tracker.close()
        await instance.broker.disconnect()


async def until(predicate, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_a_joining_client_gets_a_state_that_includes_itself(pair):
    a, _ = pair
    ann = a.join("c1", "ann")
    await until(lambda: ann.of("presence_state"))
    assert ann.of("presence_state") == [{"c1": {"name": "ann"}}]
    assert [f["type"] for f in ann.frames] == ["presence_state"]  # not its own join first


async def test_clients_on_two_instances_see_each_other_once(pair):
    a, b = pair
    ann = a.join("c1", "ann")
    await until(lambda: ann.of("presence_state"))
    bob = b.join("c2", "bob")
    everyone = {"c1": {"name": "ann"}, "c2": {"name": "bob"}}
    await until(lambda: ann.view() == everyone and bob.view() == everyone)
    b.leave("c2")
    await until(lambda: ann.view() == {"c1": {"name": "ann"}})
    assert [d["leaves"] for d in ann.of("presence_diff") if d["leaves"]] == [{"c2": {"name": "bob"}}]


async def test_a_crowd_joining_at_once_costs_a_few_diffs_not_one_per_join(pair):
    a, b = pair
    watcher = b.join("w", "watcher")
    await until(lambda: watcher.of("presence_state"))
    crowd = [a.join(f"c{n}", str(n)) for n in range(300)]
    await until(lambda: len(watcher.view()) == 301)
    assert all(len(c.view()) == 301 for c in crowd)
    assert all(c.frames[0]["type"] == "presence_state" for c in crowd)
    assert len(watcher.of("presence_diff")) <= 5
    frames = sum(len(c.frames) for c in crowd)
    assert frames <= 2 * len(crowd)  # a state each, and at most a diff or so


async def test_a_client_that_joins_and_leaves_within_a_window_is_never_shown(pair):
    a, b = pair
    watcher = b.join("w", "watcher")
    await until(lambda: watcher.of("presence_state"))
    a.join("blip", "blip")
    a.leave("blip")
    a.join("stays", "stays")
    await until(lambda: "stays" in watcher.view())
    assert all("blip" not in d["joins"] for d in watcher.of("presence_diff"))


async def test_a_graceful_close_makes_every_local_client_leave_at_once(pair):
    a, b = pair
    watcher = b.join("w", "watcher")
    for n in range(3):
        a.join(f"c{n}", str(n))
    await until(lambda: len(watcher.view()) == 4)
    await a.tracker.close()
    await until(lambda: watcher.view() == {"w": {"name": "watcher"}})
    assert await b.tracker.state(CHANNEL) == {"w": b'{"name":"watcher"}'}


async def test_an_instance_that_stops_refreshing_loses_its_clients_within_the_ttl_once():
    url = f"memory://tracker-{next(_urls)}"
    a, b, c = (Instance(url, n, ttl=0.3) for n in "abc")
    for instance in (a, b, c):
        await instance.start()
    gone = a.join("gone", "gone")
    await until(lambda: gone.of("presence_state"))
    watchers = [b.join("wb", "wb"), c.join("wc", "wc")]
    await until(lambda: all("gone" in w.view() for w in watchers))
    # "kill -9": instance a stops without a goodbye (no refresh, no leave).
    a.tracker._ticker.cancel()  # a crash has no public API; the real kill -9 is in integration
    await until(lambda: all("gone" not in w.view() for w in watchers), timeout=3)
    leaves = [cid for w in watchers for d in w.of("presence_diff") for cid in d["leaves"]]
    assert leaves.count("gone") == 2  # once per watcher, announced by one instance
    for instance in (b, c):
        await instance.tracker.close()


async def test_the_state_of_a_namespace_is_readable_where_it_is_not_hosted(pair):
    a, _ = pair
    ann = a.join("c1", "ann")
    await until(lambda: ann.of("presence_state"))
    elsewhere = Instance(a.broker.url, "rest")  # hosts nothing: reads the store
    assert await elsewhere.tracker.state(CHANNEL) == {"c1": b'{"name":"ann"}'}
