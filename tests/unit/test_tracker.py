"""The presence tracker across instances sharing one memory:// broker (no sockets).

Each ``Instance`` here is the tracker plus the few lines of hub glue it needs: announce on
the broker, hear other instances' diffs, deliver frames to its clients. Interleavings are
forced with ``GatedBroker`` (the memory broker with one call held until the test lets it go).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import ClassVar

import pytest

from sanic_wsns.broker.memory import MemoryBroker
from sanic_wsns.relay import Kind, RelayMessage, decode_relay, encode_relay
from sanic_wsns.tracker import NamespacePresence, Tracker
from tests.support.gated_broker import GatedBroker
from tests.support.polling import wait_for

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
    def __init__(self, url: str, name: str, ttl: float = 60.0, window: float = 0.02,
                 broker: type[MemoryBroker] = MemoryBroker):
        self.name = name
        self.broker = broker(url, self.on_message, lambda channels: None)
        self.tracker = Tracker(self.broker, self.announce, ttl=ttl, window=window)
        self.clients: dict[str, Client] = {}
        self.tracked: NamespacePresence | None = None

    async def start(self):
        await self.broker.connect()
        await self.broker.subscribe(CHANNEL)
        await self.tracker.load(self.open())

    def open(self) -> NamespacePresence:
        """Host the namespace (again): a new NamespacePresence, as the hub's ``_build`` makes one."""
        self.tracked = self.tracker.open(CHANNEL, self.deliver)
        return self.tracked

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
        self.tracker.join(self.tracked, client, {"name": name})
        return client

    def leave(self, cid: str) -> None:
        del self.clients[cid]
        self.tracker.leave(self.tracked, cid)


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


async def test_a_joining_client_gets_a_state_that_includes_itself(pair):
    a, _ = pair
    ann = a.join("c1", "ann")
    await wait_for(lambda: ann.of("presence_state"))
    assert ann.of("presence_state") == [{"c1": {"name": "ann"}}]
    assert [f["type"] for f in ann.frames] == ["presence_state"]  # not its own join first


async def test_clients_on_two_instances_see_each_other_once(pair):
    a, b = pair
    ann = a.join("c1", "ann")
    await wait_for(lambda: ann.of("presence_state"))
    bob = b.join("c2", "bob")
    everyone = {"c1": {"name": "ann"}, "c2": {"name": "bob"}}
    await wait_for(lambda: ann.view() == everyone and bob.view() == everyone)
    b.leave("c2")
    await wait_for(lambda: ann.view() == {"c1": {"name": "ann"}})
    assert [d["leaves"] for d in ann.of("presence_diff") if d["leaves"]] == [{"c2": {"name": "bob"}}]


async def test_a_crowd_joining_at_once_costs_a_few_diffs_not_one_per_join(pair):
    a, b = pair
    watcher = b.join("w", "watcher")
    await wait_for(lambda: watcher.of("presence_state"))
    crowd = [a.join(f"c{n}", str(n)) for n in range(300)]
    await wait_for(lambda: len(watcher.view()) == 301)
    assert all(len(c.view()) == 301 for c in crowd)
    assert all(c.frames[0]["type"] == "presence_state" for c in crowd)
    assert len(watcher.of("presence_diff")) <= 5
    frames = sum(len(c.frames) for c in crowd)
    assert frames <= 2 * len(crowd)  # a state each, and at most a diff or so


async def test_a_client_that_joins_and_leaves_within_a_window_is_never_shown(pair):
    a, b = pair
    watcher = b.join("w", "watcher")
    await wait_for(lambda: watcher.of("presence_state"))
    a.join("blip", "blip")
    a.leave("blip")
    a.join("stays", "stays")
    await wait_for(lambda: "stays" in watcher.view())
    assert all("blip" not in d["joins"] for d in watcher.of("presence_diff"))


async def test_a_graceful_close_makes_every_local_client_leave_at_once(pair):
    a, b = pair
    watcher = b.join("w", "watcher")
    for n in range(3):
        a.join(f"c{n}", str(n))
    await wait_for(lambda: len(watcher.view()) == 4)
    await a.tracker.close()
    await wait_for(lambda: watcher.view() == {"w": {"name": "watcher"}})
    assert await b.tracker.state(CHANNEL) == {"w": b'{"name":"watcher"}'}


async def test_an_instance_that_stops_refreshing_loses_its_clients_within_the_ttl_once():
    url = f"memory://tracker-{next(_urls)}"
    a, b, c = (Instance(url, n, ttl=0.3) for n in "abc")
    for instance in (a, b, c):
        await instance.start()
    gone = a.join("gone", "gone")
    await wait_for(lambda: gone.of("presence_state"))
    watchers = [b.join("wb", "wb"), c.join("wc", "wc")]
    await wait_for(lambda: all("gone" in w.view() for w in watchers))
    # "kill -9": instance a stops without a goodbye (no refresh, no leave).
    a.tracker._ticker.cancel()  # a crash has no public API; the real kill -9 is in integration
    await wait_for(lambda: all("gone" not in w.view() for w in watchers), timeout=3)
    leaves = [cid for w in watchers for d in w.of("presence_diff") for cid in d["leaves"]]
    assert leaves.count("gone") == 2  # once per watcher, announced by one instance
    for instance in (b, c):
        await instance.tracker.close()


async def test_the_state_of_a_namespace_is_readable_where_it_is_not_hosted(pair):
    a, _ = pair
    ann = a.join("c1", "ann")
    await wait_for(lambda: ann.of("presence_state"))
    elsewhere = Instance(a.broker.url, "rest")  # hosts nothing: reads the store
    assert await elsewhere.tracker.state(CHANNEL) == {"c1": b'{"name":"ann"}'}


@pytest.fixture
def gate(monkeypatch):
    """Hold the ``GatedBroker`` call named by ``gate(call)`` until ``GatedBroker.confirm`` is
    set (``GatedBroker.asked`` is set once the call was made)."""
    monkeypatch.setattr(GatedBroker, "confirm", asyncio.Event(), raising=False)
    monkeypatch.setattr(GatedBroker, "asked", asyncio.Event(), raising=False)
    monkeypatch.setattr(GatedBroker, "gated", "")

    def hold(call: str) -> None:
        GatedBroker.gated = call

    return hold


async def gated_pair(url_name: str) -> tuple[Instance, Instance]:
    """Instance ``a`` on a ``GatedBroker``, ``b`` on a plain one, sharing one memory hub."""
    url = f"memory://{url_name}-{next(_urls)}"
    a, b = Instance(url, "a", broker=GatedBroker), Instance(url, "b")
    await a.start()
    await b.start()
    return a, b


async def test_a_namespace_re_created_while_its_last_leave_is_written_gets_a_presence_of_its_own(gate):
    """The reconnect race: the last client leaves, the namespace is dropped and its leave is
    being written when a reconnect re-creates it. The old drop touches only its own NamespacePresence:
    the new namespace reads the state after the leave was written (no ghost), its joins are
    announced after that leave, and it hears the other instances."""
    a, b = await gated_pair("recreate")
    watcher = b.join("w", "watcher")
    ann = a.join("ann", "ann")
    await wait_for(lambda: "ann" in watcher.view() and ann.of("presence_state"))
    gate("presence_remove")
    old = a.tracked
    a.leave("ann")
    dropping = a.tracker.drop(old)
    await asyncio.wait_for(GatedBroker.asked.wait(), 5)  # the leave is being written
    loading = asyncio.create_task(a.tracker.load(a.open()))
    for _ in range(20):  # let every ready task run: the read must still be waiting
        await asyncio.sleep(0)
    assert not loading.done()
    GatedBroker.confirm.set()
    await asyncio.wait_for(loading, 5)
    await asyncio.wait_for(dropping, 5)
    bob = a.join("bob", "bob")
    everyone = {"w": {"name": "watcher"}, "bob": {"name": "bob"}}
    await wait_for(lambda: bob.view() == everyone and watcher.view() == everyone)
    diffs = [d for d in watcher.of("presence_diff") if "ann" in d["leaves"] or "bob" in d["joins"]]
    assert [list(d["leaves"]) for d in diffs] == [["ann"], []]  # the leave came first
    b.join("carol", "carol")  # the new one hears the other instances
    await wait_for(lambda: "carol" in bob.view())
    assert set(await a.tracker.state(CHANNEL)) == {"w", "bob", "carol"}
    for instance in (a, b):
        await instance.tracker.close()


async def test_joins_and_leaves_heard_during_the_first_read_are_applied_after_it(gate):
    """The first read of a namespace's presence returns the state from before a join and a
    leave made meanwhile on another instance: both are replayed on top of it, so the
    mirror holds neither a ghost nor a hole."""
    url = f"memory://early-{next(_urls)}"
    a = Instance(url, "a")
    await a.start()
    gone = a.join("gone", "gone")
    await wait_for(lambda: gone.of("presence_state"))
    late = Instance(url, "late", broker=GatedBroker)
    await late.broker.connect()
    await late.broker.subscribe(CHANNEL)
    gate("presence_get")
    loading = asyncio.create_task(late.tracker.load(late.open()))
    await asyncio.wait_for(GatedBroker.asked.wait(), 5)  # read: {"gone"}; not returned yet
    a.leave("gone")
    new = a.join("new", "new")
    await wait_for(lambda: new.view() == {"new": {"name": "new"}})  # both written and announced
    GatedBroker.confirm.set()
    await asyncio.wait_for(loading, 5)
    assert await late.tracker.state(CHANNEL) == {"new": b'{"name":"new"}'}
    for instance in (a, late):
        await instance.tracker.close()


async def test_clients_the_store_lost_are_announced_again_when_their_instance_rewrites_them(pair):
    """Redis came back empty: the other instance re-reads the state first and shows the
    lost client leaving; when the client's own instance writes it again, the re-added entry
    is announced, so it does not stay invisible there for good."""
    a, b = pair
    ann = a.join("ann", "ann")
    watcher = b.join("w", "watcher")
    await wait_for(lambda: set(watcher.view()) == {"ann", "w"} and set(ann.view()) == {"ann", "w"})
    MemoryBroker._presences.pop(a.broker.url)  # the store lost every entry
    b.tracker.restored()
    await wait_for(lambda: set(watcher.view()) == {"w"})  # b re-read it before a wrote again
    a.tracker.restored()
    await wait_for(lambda: set(watcher.view()) == {"ann", "w"})
    assert set(ann.view()) == {"ann", "w"}


async def test_the_first_change_after_a_quiet_spell_is_written_at_once_not_after_the_window():
    """The batch window delays only changes that follow another within it: with a 10 s
    window the first join is written and shown at once (well within 2 s)."""
    url = f"memory://quiet-{next(_urls)}"
    a, b = Instance(url, "a", window=10.0), Instance(url, "b", window=10.0)
    await a.start()
    await b.start()
    watcher = b.join("w", "watcher")
    await wait_for(lambda: watcher.of("presence_state"), timeout=2)
    ann = a.join("ann", "ann")
    await wait_for(lambda: "ann" in watcher.view() and ann.of("presence_state"), timeout=2)
    for instance in (a, b):
        await instance.tracker.close()


async def test_a_presence_dropped_after_its_channel_was_reopened_leaves_the_new_one_alone(pair):
    a, b = pair
    old = a.tracked
    a.open()
    await a.tracker.load(a.tracked)
    await asyncio.wait_for(a.tracker.drop(old), 5)
    bob = a.join("bob", "bob")
    b.join("carol", "carol")
    await wait_for(lambda: set(bob.view()) == {"bob", "carol"})


class AddsWatched(GatedBroker):
    """``GatedBroker`` that also says when a held ``presence_add`` has landed in the store."""

    landed: ClassVar[asyncio.Event]

    async def presence_add(self, channel: str, entries: list[tuple[str, bytes]], ttl: float) -> list[str]:
        added = await super().presence_add(channel, entries, ttl)
        if GatedBroker.confirm.is_set():
            AddsWatched.landed.set()
        return added


async def test_a_refresh_written_after_a_leave_does_not_bring_the_client_back(gate, monkeypatch):
    """The periodic refresh of this instance's entries is on its way to the store when one
    of its clients leaves, and the leave is written first (Redis runs them on different
    connections): the refresh re-creates the entry, which is removed again at once instead
    of staying in the store as a ghost until the ttl."""
    monkeypatch.setattr(AddsWatched, "landed", asyncio.Event(), raising=False)
    url = f"memory://refresh-leave-{next(_urls)}"
    a, b = Instance(url, "a", broker=AddsWatched), Instance(url, "b")
    await a.start()
    await b.start()
    watcher = b.join("w", "watcher")
    ann = a.join("ann", "ann")
    await wait_for(lambda: "ann" in watcher.view() and ann.of("presence_state"))
    gate("presence_add")
    a.tracker.restored()  # writes this instance's entries again now, as after a reconnect
    await asyncio.wait_for(GatedBroker.asked.wait(), 5)
    a.leave("ann")
    await wait_for(lambda: "ann" not in watcher.view())  # its leave was written and announced
    GatedBroker.confirm.set()  # then the refresh lands, with ann in it
    await asyncio.wait_for(AddsWatched.landed.wait(), 5)
    async with asyncio.timeout(5):
        while "ann" in await b.broker.presence_get(CHANNEL):
            await asyncio.sleep(0.005)
    await wait_for(lambda: "ann" not in watcher.view())
    for instance in (a, b):
        await instance.tracker.close()
