"""A history namespace's feed: offset order, one gap read for all clients, joining clients.

The history store here is a dict and the clients are lists: this is the pure logic between
the broker and the sockets (the real broker and sockets are in tests/integration).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from sanic_wsns.feed import Feed
from sanic_wsns.instance_stats import InstanceStats
from sanic_wsns.protocol import ws_text_frame
from sanic_wsns.recovery import MAX_PENDING, Position


def stored(offset: int) -> bytes:
    return b'{"type":"t","data":null,"offset":%d}' % offset


def live(offset: int) -> bytes:
    return ws_text_frame(stored(offset))


def decode(frame: bytes) -> dict:
    return json.loads(frame[2:])  # these frames are short: a 2-byte header


class History:
    """Offsets 1..top of ``epoch``, of which those below ``first`` were trimmed; a read can
    be held at a gate to force an interleaving."""

    def __init__(self, top: int, first: int = 1):
        self.top, self.first, self.reads = top, first, 0
        self.epoch = "e"
        self.gate: asyncio.Event | None = None
        self.fail = False  # every read fails
        self.failures = 0  # so many reads fail, then they answer

    async def read(self, after: int):
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail or self.failures:
            self.failures = max(0, self.failures - 1)
            raise ConnectionError("redis away")
        start = max(after + 1, self.first)
        return Position(self.top, self.epoch), [(o, stored(o)) for o in range(start, self.top + 1)]


class Client:
    def __init__(self, id: str):
        self.id, self.frames = id, []
        self.writes_of_many: list[int] = []  # frames per ``write_many``

    def write(self, frame: bytes) -> bool:
        self.frames.append(decode(frame))
        return True

    def write_many(self, frames: list[bytes]) -> bool:
        self.writes_of_many.append(len(frames))
        self.frames += [decode(frame) for frame in frames]
        return True

    def offsets(self) -> list:
        return [f.get("offset") for f in self.frames if f["type"] == "t"]

    def types(self) -> list:
        return [f["type"] for f in self.frames]


class Namespace:
    def __init__(self):
        self.clients: dict[str, Client] = {}

    def deliver(self, frame: bytes, exclude: tuple[str, ...] = ()) -> None:
        for client in self.clients.values():
            if client.id not in exclude:
                client.write(frame)


def welcome(position: Position, recovered):
    body = {"position": {"offset": position.offset, "epoch": position.epoch}}
    if recovered is not None:
        body["recovered"] = recovered
    return ws_text_frame(json.dumps({"type": "welcome", "data": body}).encode())


@pytest.fixture
def ns():
    return Namespace()


def make_feed(ns, history, position=None):
    feed = Feed(history.read, ns.deliver, "/t", InstanceStats())
    feed.start(position or Position(0, "e"))
    return feed


async def settle(feed):
    await asyncio.wait_for(feed.settled(), 5)


async def join(feed, ns, client, since=None, epoch=None):
    return await feed.admit(client, since, epoch, welcome, lambda: ns.clients.__setitem__(client.id, client))


async def test_a_fresh_client_is_welcomed_at_the_feed_position_and_gets_later_frames(ns):
    history = History(top=3)
    feed = make_feed(ns, history, Position(3, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(4, "e", live(4))
    assert alice.frames[0]["data"]["position"] == {"offset": 3, "epoch": "e"}
    assert "recovered" not in alice.frames[0]["data"] and alice.offsets() == [4]


async def test_one_gap_read_fills_the_hole_for_every_client(ns):
    history = History(top=6)
    feed = make_feed(ns, history, Position(2, "e"))
    clients = [Client(str(n)) for n in range(3)]
    for client in clients:
        await join(feed, ns, client)
    feed.heard(5, "e", live(5))
    feed.heard(6, "e", live(6))
    await settle(feed)
    assert history.reads == 1
    assert all(c.offsets() == [3, 4, 5, 6] for c in clients)


async def test_a_returning_client_gets_exactly_what_it_missed_then_live_frames(ns):
    history = History(top=5)
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    plan = await join(feed, ns, bob, since=2, epoch="e")
    feed.heard(6, "e", live(6))
    assert plan.recovered and bob.frames[0]["data"]["recovered"] is True
    assert bob.frames[0]["data"]["position"]["offset"] == 2
    assert bob.offsets() == [3, 4, 5, 6]


async def test_frames_published_while_a_client_recovers_are_neither_lost_nor_doubled(ns):
    history = History(top=5)
    history.gate = asyncio.Event()  # hold the recovering client's read
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    joining = asyncio.ensure_future(join(feed, ns, bob, since=1, epoch="e"))
    await asyncio.sleep(0)
    history.top = 7  # two more published while the read is held
    feed.heard(6, "e", live(6))
    feed.heard(7, "e", live(7))
    history.gate.set()
    await asyncio.wait_for(joining, 5)
    feed.heard(8, "e", live(8))
    assert bob.offsets() == [2, 3, 4, 5, 6, 7, 8]


async def test_a_client_ahead_of_this_instance_does_not_get_its_frames_twice(ns):
    history = History(top=9)
    feed = make_feed(ns, history, Position(7, "e"))
    bob = Client("b")
    await join(feed, ns, bob, since=9, epoch="e")
    feed.heard(8, "e", live(8))
    feed.heard(9, "e", live(9))
    feed.heard(10, "e", live(10))
    assert bob.offsets() == [10]


@pytest.mark.parametrize(("since", "epoch", "first", "reason"), [
    (1, "e", 4, "history_exhausted"),
    (1, "other", 1, "epoch_changed"),
])
async def test_a_client_history_cannot_catch_up_is_welcomed_unrecovered_then_resynced(
        ns, since, epoch, first, reason):
    feed = make_feed(ns, History(top=5, first=first), Position(5, "e"))
    bob = Client("b")
    plan = await join(feed, ns, bob, since=since, epoch=epoch)
    assert not plan.recovered
    assert bob.types() == ["welcome", "resync"]
    assert bob.frames[0]["data"] == {"position": {"offset": 5, "epoch": "e"}, "recovered": False}
    assert bob.frames[1]["data"] == {"reason": reason}
    assert feed.stats.resyncs == {reason: 1}


async def test_a_client_of_another_epoch_costs_no_history_read(ns):
    history = History(top=5)
    feed = make_feed(ns, history, Position(5, "e"))
    await join(feed, ns, Client("b"), since=1, epoch="other")
    assert history.reads == 0


async def test_a_recovering_client_with_the_broker_away_is_resynced_and_it_is_logged(ns, caplog):
    history = History(top=5)
    history.fail = True
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    await join(feed, ns, bob, since=2, epoch="e")
    assert bob.types() == ["welcome", "resync"] and bob.frames[1]["data"]["reason"] == "broker_lost"
    assert "history read failed for a recovering client ns=/t: redis away" in caplog.text


async def test_a_gap_read_that_keeps_failing_resyncs_once_and_delivers_what_it_held(ns, monkeypatch):
    monkeypatch.setattr("sanic_wsns.feed.READ_RETRIES", (0.0, 0.0, None))
    history = History(top=4)
    history.fail = True
    feed = make_feed(ns, history, Position(1, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(4, "e", live(4))
    await settle(feed)
    assert history.reads == 3
    assert alice.types() == ["welcome", "resync", "t"] and alice.offsets() == [4]
    assert alice.frames[1]["data"] == {"reason": "broker_lost", "position": {"offset": 4, "epoch": "e"}}
    assert feed.stats.resyncs == {"broker_lost": 1}


async def test_a_gap_read_that_fails_once_is_tried_again_without_resync(ns, monkeypatch):
    monkeypatch.setattr("sanic_wsns.feed.READ_RETRIES", (0.0, 0.0, None))
    history = History(top=4)
    history.failures = 1
    feed = make_feed(ns, history, Position(1, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(4, "e", live(4))
    await settle(feed)
    assert history.reads == 2 and alice.offsets() == [2, 3, 4] and "resync" not in alice.types()


async def test_settled_returns_only_once_the_gap_read_is_done(ns):
    history = History(top=3)
    history.gate = asyncio.Event()
    feed = make_feed(ns, history, Position(1, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(3, "e", live(3))
    settling = asyncio.ensure_future(feed.settled())
    done, _ = await asyncio.wait({settling}, timeout=0.05)  # a bounded look: still reading
    assert not done and alice.offsets() == []
    history.gate.set()
    await asyncio.wait_for(settling, 5)
    assert alice.offsets() == [2, 3]


async def test_closing_the_feed_stops_its_gap_read(ns):
    history = History(top=3)
    history.gate = asyncio.Event()
    feed = make_feed(ns, history, Position(1, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(3, "e", live(3))
    await asyncio.wait_for(feed.close(), 5)
    history.gate.set()
    await asyncio.sleep(0)  # a read that was not stopped would deliver now
    assert alice.offsets() == [] and history.reads == 1


async def test_after_a_broker_outage_the_feed_reads_what_it_missed(ns):
    history = History(top=4)
    feed = make_feed(ns, history, Position(2, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.restored()
    await settle(feed)
    assert alice.offsets() == [3, 4] and "resync" not in alice.types()


async def test_a_hole_beyond_history_resyncs_every_client_once(ns):
    feed = make_feed(ns, History(top=9, first=7), Position(2, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(9, "e", live(9))
    await settle(feed)
    assert alice.types() == ["welcome", "resync"]
    feed.heard(10, "e", live(10))
    assert alice.offsets() == [10]


async def test_excluded_clients_skip_the_live_frame(ns):
    feed = make_feed(ns, History(top=0))
    alice, bob = Client("a"), Client("b")
    await join(feed, ns, alice)
    await join(feed, ns, bob)
    feed.heard(1, "e", live(1), exclude=("a",))
    assert alice.offsets() == [] and bob.offsets() == [1]


async def test_a_client_that_leaves_before_catching_up_is_forgotten(ns):
    feed = make_feed(ns, History(top=9), Position(7, "e"))
    bob = Client("b")
    await join(feed, ns, bob, since=9, epoch="e")
    assert feed.arriving
    feed.forget("b")
    assert not feed.arriving
    feed.heard(8, "e", live(8))
    feed.heard(9, "e", live(9))
    feed.heard(10, "e", live(10))
    assert bob.offsets() == [] and "b" not in ns.clients


async def test_frames_heard_before_the_position_is_known_wait_and_older_ones_are_dropped(ns):
    feed = Feed(History(top=0).read, ns.deliver, "/t", InstanceStats())
    feed.heard(4, "e", live(4))
    feed.heard(5, "e", live(5))
    feed.start(Position(4, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(6, "e", live(6))
    assert alice.offsets() == [6] and feed.position == Position(6, "e")


async def test_a_broker_back_while_the_position_is_read_is_read_after_once_it_is_known(ns):
    """The link came back while the namespace's position was being read (that read may
    have been answered before what the link missed was published): once the position is
    known, the feed reads what came after it."""
    history = History(top=4)
    feed = Feed(history.read, ns.deliver, "/t", InstanceStats())
    feed.restored()
    feed.start(Position(2, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    await settle(feed)
    assert alice.offsets() == [3, 4] and history.reads == 1


async def test_a_new_epoch_tells_clients_where_offsets_start_again(ns):
    feed = make_feed(ns, History(top=5), Position(5, "e"))
    alice = Client("a")
    await join(feed, ns, alice)
    feed.heard(1, "other", live(1))
    resync = alice.frames[1]
    assert resync == {"type": "resync", "data": {"reason": "epoch_changed",
                                                 "position": {"offset": 0, "epoch": "other"}}}
    assert alice.offsets() == [1]


async def gated_join(feed, ns, client, history, since, epoch="e"):
    """Start ``client``'s join and return once its history read is held at the gate."""
    history.gate = asyncio.Event()
    joining = asyncio.ensure_future(join(feed, ns, client, since=since, epoch=epoch))
    while history.reads == 0:
        await asyncio.sleep(0)
    return joining


async def test_a_new_epoch_while_a_client_reads_its_history_reaches_it_after_its_missed_frames(ns):
    """The read answered from the old stream; the stream was lost meanwhile: the client gets
    what it missed, then the resync with the new position, then the new epoch's frames,
    even those numbered at or below what it had."""
    history = History(top=5)
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    joining = await gated_join(feed, ns, bob, history, since=2)
    feed.heard(1, "new", live(1))
    feed.heard(2, "new", live(2))
    history.gate.set()
    await asyncio.wait_for(joining, 5)
    feed.heard(3, "new", live(3))
    assert feed.stats.resyncs == {"epoch_changed": 1}
    assert bob.types() == ["welcome", "t", "t", "t", "resync", "t", "t", "t"]
    assert bob.frames[0]["data"]["recovered"] is True
    assert bob.frames[4]["data"] == {"reason": "epoch_changed", "position": {"offset": 0, "epoch": "new"}}
    assert bob.offsets() == [3, 4, 5, 1, 2, 3]


async def test_a_read_that_finds_the_stream_lost_is_no_recovery_and_the_feed_resync_follows(ns):
    """The read itself sees the new epoch, which the feed heard of while it was held: the
    client is not recovered, and it gets the feed's resync with the position delivery goes
    on from, then every new-epoch frame (a client keeping the old offset would drop them)."""
    history = History(top=5)
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    joining = await gated_join(feed, ns, bob, history, since=2)
    feed.heard(1, "new", live(1))
    feed.heard(2, "new", live(2))
    history.epoch, history.top = "new", 2
    history.gate.set()
    plan = await asyncio.wait_for(joining, 5)
    feed.heard(3, "new", live(3))
    assert not plan.recovered and bob.frames[0]["data"]["recovered"] is False
    assert bob.types() == ["welcome", "resync", "resync", "t", "t", "t"]
    assert bob.frames[2]["data"]["position"] == {"offset": 0, "epoch": "new"}
    assert bob.offsets() == [1, 2, 3]


async def test_a_read_from_a_stream_lost_unnoticed_sends_no_new_epoch_frame_as_missed(ns):
    """Redis lost the stream and new frames were numbered again from 1 before this feed
    heard of it: a read after ``since`` finds new-epoch frames with the offsets the client
    missed, which are not the frames it missed."""
    history = History(top=7)
    history.epoch = "new"
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    plan = await join(feed, ns, bob, since=2, epoch="e")
    assert not plan.recovered and bob.types() == ["welcome", "resync"]
    assert bob.frames[1]["data"] == {"reason": "epoch_changed"}


async def test_an_overflow_while_a_client_reads_its_history_resyncs_it_too(ns):
    """More frames than a feed holds pile up behind a hole while a client's read is held:
    the feed gives up (``overflow``) and goes on after them; the client gets that resync
    and what followed, not only the frames after what it had."""
    history = History(top=5)
    feed = make_feed(ns, history, Position(5, "e"))
    bob = Client("b")
    joining = await gated_join(feed, ns, bob, history, since=2)
    top = 7 + MAX_PENDING
    for offset in range(7, top + 1):  # 6 is lost: the hole's read is held too
        feed.heard(offset, "e", live(offset))
    feed.heard(top + 1, "e", live(top + 1))
    history.gate.set()
    await asyncio.wait_for(joining, 5)
    await settle(feed)
    assert bob.types() == ["welcome", "t", "t", "t", "resync", "t"]
    assert bob.frames[4]["data"] == {"reason": "overflow", "position": {"offset": top, "epoch": "e"}}
    assert bob.offsets() == [3, 4, 5, top + 1]


async def test_a_client_ahead_of_this_instance_is_resynced_when_the_feed_resets(ns):
    """It waits for this feed to pass what it has; a new epoch means that never happens:
    it gets the resync and joins at once."""
    feed = make_feed(ns, History(top=9), Position(7, "e"))
    bob = Client("b")
    await join(feed, ns, bob, since=9, epoch="e")
    feed.heard(1, "new", live(1))
    feed.heard(2, "new", live(2))
    assert bob.types() == ["welcome", "resync", "t", "t"] and bob.offsets() == [1, 2]
    assert "b" in ns.clients and not feed.arriving


async def test_a_client_that_leaves_while_its_history_is_read_is_forgotten(ns):
    history = History(top=5)
    feed = make_feed(ns, history, Position(5, "e"))
    joining = await gated_join(feed, ns, Client("b"), history, since=2)
    assert feed.arriving
    feed.forget("b")
    assert not feed.arriving
    history.gate.set()
    await asyncio.wait_for(joining, 5)


async def test_a_client_ahead_of_this_instance_joins_at_once_when_the_feed_resets_during_its_read(ns):
    """It came from an instance ahead of this one; a new epoch arrives while its read is
    held: after that resync it has nothing to wait for (offsets started again)."""
    history = History(top=9)
    feed = make_feed(ns, history, Position(7, "e"))
    bob = Client("b")
    joining = await gated_join(feed, ns, bob, history, since=9)
    feed.heard(1, "new", live(1))
    history.gate.set()
    await asyncio.wait_for(joining, 5)
    feed.heard(2, "new", live(2))
    assert bob.types() == ["welcome", "resync", "t", "t"] and bob.offsets() == [1, 2]
    assert "b" in ns.clients and not feed.arriving


async def test_a_returning_client_gets_its_welcome_missed_and_held_frames_in_one_write(ns):
    history = History(top=5)
    history.gate = asyncio.Event()
    feed = make_feed(ns, history, Position(5, "e"))
    client = Client("c")
    joining = asyncio.ensure_future(join(feed, ns, client, since=2, epoch="e"))
    await asyncio.sleep(0)  # its read starts, and waits at the gate
    assert history.reads == 1
    history.top = 6
    feed.heard(6, "e", live(6))  # published while its history is read: held for it
    history.gate.set()
    await asyncio.wait_for(joining, 5)
    assert client.types()[0] == "welcome" and client.offsets() == [3, 4, 5, 6]
    assert client.writes_of_many == [5]  # welcome, 3, 4, 5 and the held 6: one write
