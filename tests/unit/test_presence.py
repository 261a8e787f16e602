"""The pure presence rules: the mirror, the batch, the frames, and memory:// presence."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sanic_wsns.broker.memory_presence import MemoryPresence
from sanic_wsns.presence import Diff, PresenceBatch, PresenceMirror, encode_diff, encode_state


def public(name: str) -> bytes:
    return json.dumps({"name": name}).encode()


# --- PresenceMirror ----------------------------------------------------------------------

def test_a_join_is_reported_once_however_often_it_is_heard():
    mirror = PresenceMirror()
    assert mirror.apply([("c1", public("ann"))], []).joins == {"c1": public("ann")}
    assert not mirror.apply([("c1", public("ann"))], [])


def test_a_leave_is_reported_once_with_the_identity_that_was_shown():
    mirror = PresenceMirror({"c1": public("ann")})
    assert mirror.apply([], ["c1"]).leaves == {"c1": public("ann")}
    assert not mirror.apply([], ["c1"])
    assert "c1" not in mirror and len(mirror) == 0


def test_a_join_and_leave_in_one_diff_report_nothing():
    mirror = PresenceMirror()
    assert not mirror.apply([("c1", public("ann"))], ["c1"])
    assert len(mirror) == 0


def test_a_join_with_a_new_value_overwrites_and_is_reported_as_a_join_not_a_leave():
    mirror = PresenceMirror({"c1": public("ann")})
    assert mirror.apply([("c1", public("ann, editing"))], []) == Diff(joins={"c1": public("ann, editing")})
    assert dict(mirror.entries) == {"c1": public("ann, editing")}
    assert not mirror.apply([("c1", public("ann, editing"))], [])  # heard twice: once


def test_an_update_and_a_leave_in_one_diff_report_the_leave_with_what_was_shown():
    mirror = PresenceMirror({"c1": public("ann")})
    assert mirror.apply([("c1", public("ann, editing"))], ["c1"]) == Diff(leaves={"c1": public("ann")})


def test_replacing_the_state_reports_changed_values_as_joins():
    mirror = PresenceMirror({"c1": public("ann")})
    assert mirror.replace({"c1": public("ann, editing")}) == Diff(joins={"c1": public("ann, editing")})


def test_replacing_the_state_reports_what_changed_meanwhile():
    mirror = PresenceMirror({"stays": public("a"), "gone": public("b")})
    changed = mirror.replace({"stays": public("a"), "new": public("c")})
    assert changed == Diff(joins={"new": public("c")}, leaves={"gone": public("b")})
    assert dict(mirror.entries) == {"stays": public("a"), "new": public("c")}


@given(st.lists(st.tuples(st.sampled_from(["join", "update", "leave"]), st.integers(0, 5)), max_size=40))
def test_applied_transitions_replayed_on_the_first_state_give_the_mirror(events):
    """A client that got the state, then every reported diff (a join overwriting), sees
    exactly the mirror; a leave is only ever reported for a member it was shown."""
    mirror = PresenceMirror({"c0": public("zero")})
    seen = dict(mirror.entries)
    for kind, n in events:
        cid = f"c{n}"
        if kind == "leave":
            diff = mirror.apply([], [cid])
        else:
            diff = mirror.apply([(cid, public(cid if kind == "join" else cid + " busy"))], [])
        for joined in diff.joins:
            assert seen.get(joined) != diff.joins[joined]
            seen[joined] = diff.joins[joined]
        for left in diff.leaves:
            assert seen[left] == diff.leaves[left]
            del seen[left]
    assert seen == dict(mirror.entries)


# --- PresenceBatch -----------------------------------------------------------------------

def test_a_client_that_joins_and_leaves_within_a_window_is_never_announced():
    batch = PresenceBatch()
    batch.join("c1", public("ann"))
    batch.leave("c1")
    assert not batch


def test_a_batch_keeps_joins_and_leaves_of_different_clients():
    batch = PresenceBatch()
    batch.join("c1", public("ann"))
    batch.leave("c0")
    assert batch.joins == {"c1": public("ann")} and batch.leaves == ["c0"]


def test_an_update_of_a_pending_join_changes_the_join_and_one_of_a_leaving_client_is_dropped():
    batch = PresenceBatch()
    batch.join("c1", public("ann"))
    batch.update("c1", public("ann, editing"))
    batch.update("c0", public("bob, editing"))
    assert batch.joins == {"c1": public("ann, editing")} and batch.updates == {"c0": public("bob, editing")}
    batch.leave("c0")
    assert batch.updates == {} and batch.leaves == ["c0"]


# --- frames ------------------------------------------------------------------------------

def test_the_state_frame_maps_client_ids_to_public_identities():
    frame = json.loads(encode_state({"c1": public("ann"), "c2": public("bob")}))
    assert frame == {"type": "presence_state", "data": {"c1": {"name": "ann"}, "c2": {"name": "bob"}}}


def test_a_state_over_the_limit_is_cut_and_says_so():
    frame = json.loads(encode_state({f"c{n}": public(str(n)) for n in range(5)}, limit=3))
    assert len(frame["data"]) == 3 and frame["truncated"] is True
    assert "truncated" not in json.loads(encode_state({"c": public("x")}, limit=3))


def test_the_diff_frame_has_joins_and_leaves():
    frame = json.loads(encode_diff(Diff(joins={"c1": public("ann")}, leaves={"c2": public("bob")})))
    assert frame == {"type": "presence_diff",
                     "data": {"joins": {"c1": {"name": "ann"}}, "leaves": {"c2": {"name": "bob"}}}}


def test_client_ids_are_escaped_as_json_keys():
    frame = json.loads(encode_state({'a"b\\c': public("x")}))
    assert list(frame["data"]) == ['a"b\\c']


# --- memory:// presence ------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_memory_presence_adds_refreshes_and_removes_like_redis():
    store = MemoryPresence(Clock())
    assert store.add("ch", [("c1", public("ann"))], ttl=10) == ["c1"]
    assert store.add("ch", [("c1", public("ann")), ("c2", public("bob"))], ttl=10) == ["c2"]
    assert store.remove("ch", ["c1", "ghost"]) == ["c1"]
    assert store.get("ch") == {"c2": public("bob")}


def test_memory_presence_hands_each_expired_entry_to_one_sweeper():
    clock = Clock()
    store = MemoryPresence(clock)
    store.add("ch", [(f"c{n}", public(str(n))) for n in range(5)], ttl=10)
    clock.now = 5
    store.add("ch", [("c0", public("0"))], ttl=10)  # refreshed: lives on
    clock.now = 11
    assert store.get("ch") == {"c0": public("0")}
    first = store.expire("ch", limit=2)
    second = store.expire("ch", limit=100)
    assert len(first) == 2 and sorted(first + second) == ["c1", "c2", "c3", "c4"]
    assert store.expire("ch", limit=100) == [] and store.remove("ch", ["c1"]) == []
