"""The outbox table's SQL for SQLite (sanic_wsns.outbox.sqlite) on a real file: record,
schedule, claim, mark, prune. Time is passed in, so the grace period and the lease are
checked without waiting."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_app.limits import DEFAULT_LIMITS
from sanic_wsns.outbox import SCHEDULE_DELAY, Timing
from sanic_wsns.outbox import sqlite as outbox

TIMING = Timing()
GRACE, KEEP, LEASE = TIMING.grace, TIMING.keep, TIMING.lease


@pytest.fixture
def db(tmp_path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(tmp_path / "outbox.sqlite", isolation_level=None)
    connection.executescript(outbox.SCHEMA)
    yield connection
    connection.close()


def created_at(db: sqlite3.Connection, frame_id: int, when: float) -> None:
    db.execute("UPDATE outbox SET created = ? WHERE id = ?", (when, frame_id))


def test_a_recorded_frame_keeps_its_path_type_and_json_data(db):
    frame = outbox.record(db, "/maps/1", "bubble-created", {"id": 7, "text": "é"})
    [(path, type, data)] = db.execute("SELECT path, type, data FROM outbox").fetchall()
    assert (path, type) == ("/maps/1", "bubble-created") == (frame.path, frame.type)
    assert data == '{"id":7,"text":"é"}'
    assert bytes(frame.data) == data.encode()


def test_a_frame_younger_than_the_grace_period_is_left_to_its_writer(db):
    frame = outbox.record(db, "/maps/1", "t", 1)
    created_at(db, frame.id, 1000.0)
    assert not outbox.backlog(db, 1000.0 + GRACE - 0.1, TIMING).claimable
    assert outbox.claim(db, "a", 1000.0 + GRACE - 0.1, TIMING).frames == []
    assert outbox.backlog(db, 1000.0 + GRACE, TIMING).claimable
    assert [f.id for f in outbox.claim(db, "a", 1000.0 + GRACE, TIMING).frames] == [frame.id]


def test_a_claimed_frame_is_not_claimed_again_until_its_lease_ends(db):
    frames = [outbox.record(db, "/maps/1", "t", n) for n in range(3)]
    for frame in frames:
        created_at(db, frame.id, 0.0)
    now = 100.0
    assert [f.id for f in outbox.claim(db, "a", now, TIMING).frames] == [f.id for f in frames]
    assert outbox.claim(db, "b", now + LEASE - 0.1, TIMING).frames == []
    assert not outbox.backlog(db, now + LEASE - 0.1, TIMING).claimable
    assert [f.id for f in outbox.claim(db, "b", now + LEASE + 0.1, TIMING).frames] == [f.id for f in frames]
    assert {r[0] for r in db.execute("SELECT claimed_by FROM outbox")} == {"b"}


def test_a_claim_takes_the_oldest_frames_first_and_at_most_its_limit(db):
    frames = [outbox.record(db, "/maps/1", "t", n) for n in range(5)]
    db.execute("UPDATE outbox SET created = 0")
    assert [f.id for f in outbox.claim(db, "a", 100.0, Timing(batch=2)).frames] == [f.id for f in frames[:2]]
    assert [f.id for f in outbox.claim(db, "b", 100.0, Timing(batch=10)).frames] == [f.id for f in frames[2:]]


def test_a_published_frame_is_never_claimed(db):
    frame = outbox.record(db, "/maps/1", "t", 1)
    created_at(db, frame.id, 0.0)
    outbox.mark_published(db, [frame.id], 1.0)
    assert not outbox.backlog(db, 100.0, TIMING).claimable
    assert outbox.claim(db, "a", 100.0, TIMING).frames == []


def test_prune_deletes_only_frames_published_longer_ago_than_kept(db):
    old, recent, unpublished = (outbox.record(db, "/maps/1", "t", n) for n in range(3))
    db.execute("UPDATE outbox SET created = 0")
    outbox.mark_published(db, [old.id], 10.0)
    outbox.mark_published(db, [recent.id], 20.0)
    assert outbox.prune(db, 15.0, TIMING.prune_batch) == 1
    assert [r[0] for r in db.execute("SELECT id FROM outbox ORDER BY id")] == [recent.id, unpublished.id]


def test_prune_deletes_at_most_its_limit_per_call(db):
    for n in range(5):
        outbox.mark_published(db, [outbox.record(db, "/maps/1", "t", n).id], 0.0)
    assert outbox.prune(db, 1.0, 3) == 3
    assert outbox.prune(db, 1.0, 3) == 2


# -- scheduled frames ------------------------------------------------------------------------

def test_a_scheduled_frame_is_due_after_its_delay_and_claimed_as_scheduled(db):
    before = time.time()
    outbox.schedule(db, "/lists/public", "map-card", {"id": 1}, coalesce="map 1 public")
    assert outbox.claim(db, "a", before, TIMING).frames == []
    [frame] = outbox.claim(db, "a", time.time() + SCHEDULE_DELAY, TIMING).frames
    assert (frame.path, frame.type, bytes(frame.data), frame.scheduled) == (
        "/lists/public", "map-card", b'{"id":1}', True)
    assert not outbox.record(db, "/maps/1", "t", 1).scheduled


def test_a_frame_scheduled_under_a_waiting_key_replaces_it(db):
    outbox.schedule(db, "/lists/public", "map-card", {"id": 1, "revision": 1}, coalesce="map 1 public")
    outbox.schedule(db, "/lists/public", "map-card", {"id": 1, "revision": 2}, coalesce="map 1 public")
    outbox.schedule(db, "/lists/public", "map-removed", {"id": 1}, coalesce="map 1 public")
    outbox.schedule(db, "/lists/public", "map-card", {"id": 2, "revision": 1}, coalesce="map 2 public")
    rows = db.execute("SELECT type, data FROM outbox ORDER BY id").fetchall()
    assert rows == [("map-removed", '{"id":1}'), ("map-card", '{"id":2,"revision":1}')]


def test_once_claimed_a_scheduled_frame_is_left_alone_and_the_next_change_gets_a_new_one(db):
    outbox.schedule(db, "/lists/public", "map-card", {"revision": 1}, coalesce="map 1 public")
    [claimed] = outbox.claim(db, "a", time.time() + SCHEDULE_DELAY, TIMING).frames
    outbox.schedule(db, "/lists/public", "map-card", {"revision": 2}, coalesce="map 1 public")
    rows = db.execute("SELECT id, data FROM outbox ORDER BY id").fetchall()
    assert rows == [(claimed.id, '{"revision":1}'), (claimed.id + 1, '{"revision":2}')]


def test_the_outbox_page_states_the_pruning_and_the_edit_budget_in_force():
    page = " ".join((Path(__file__).parents[3] / "docs" / "outbox.md").read_text(encoding="utf-8").split())
    edits = DEFAULT_LIMITS.edits
    assert (f"deletes the rows published more than {KEEP:g} s ago, {TIMING.prune_batch} per transaction"
            in page)
    assert f"up to {TIMING.prune_batch * TIMING.prune_batches:,} per pass" in page
    assert f"may make {edits.per_second:g} bubble edits a second (bursts of {edits.burst})" in page
