"""The pure recovery rules: in-order delivery by offset, gap fill, and a returning client."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sanic_wsns.recovery import Position, ResyncReason, Sequencer, plan_recovery


def frame(offset: int) -> bytes:
    return b"f%d" % offset


def entries(first: int, last: int) -> list[tuple[int, bytes]]:
    return [(o, frame(o)) for o in range(first, last + 1)]


def offsets(step) -> list[int]:
    return [o for o, _ in step.deliver]


# --- Sequencer ---------------------------------------------------------------------------

def test_frames_in_order_are_delivered_at_once():
    seq = Sequencer(Position(0, "e"))
    assert offsets(seq.push(1, "e", frame(1))) == [1]
    assert offsets(seq.push(2, "e", frame(2))) == [2]
    assert seq.position == Position(2, "e")


def test_a_duplicate_or_older_frame_is_dropped():
    seq = Sequencer(Position(5, "e"))
    step = seq.push(5, "e", frame(5))
    assert step.deliver == [] and step.read_after is None and step.resync is None


def test_a_skipped_offset_holds_later_frames_and_asks_history_once():
    seq = Sequencer(Position(3, "e"))
    first = seq.push(6, "e", frame(6))
    assert first.deliver == [] and first.read_after == 3
    second = seq.push(7, "e", frame(7))
    assert second.deliver == [] and second.read_after is None  # one read per hole
    filled = seq.fill(Position(7, "e"), entries(4, 7))
    assert offsets(filled) == [4, 5, 6, 7] and filled.resync is None
    assert seq.position == Position(7, "e")


def test_an_own_frame_ahead_of_the_link_waits_for_it_without_a_history_read():
    seq = Sequencer(Position(3, "e"))
    own = seq.push(5, "e", frame(5), heard=False)  # the script's reply overtook offset 4
    assert own.deliver == [] and own.read_after is None
    assert offsets(seq.push(4, "e", frame(4))) == [4, 5]  # the link brings 4: both, in order
    echo = seq.push(5, "e", frame(5))
    assert echo.deliver == [] and echo.read_after is None and seq.delivered(5, "e")


def test_an_own_frame_s_echo_behind_a_hole_proves_the_link_lost_it():
    seq = Sequencer(Position(3, "e"))
    seq.push(5, "e", frame(5), heard=False)
    echo = seq.push(5, "e", frame(5))  # 4 was published before 5: the link lost it
    assert echo.deliver == [] and echo.read_after == 3
    assert offsets(seq.fill(Position(5, "e"), entries(4, 5))) == [4, 5]


def test_frames_that_arrive_during_a_fill_follow_it_in_order():
    seq = Sequencer(Position(0, "e"))
    seq.push(2, "e", frame(2))
    seq.push(3, "e", frame(3))
    filled = seq.fill(Position(2, "e"), entries(1, 2))  # read before 3 was stored
    assert offsets(filled) == [1, 2, 3]


def test_a_hole_history_no_longer_covers_resyncs_and_goes_on_after_it():
    seq = Sequencer(Position(2, "e"))
    seq.push(9, "e", frame(9))
    filled = seq.fill(Position(9, "e"), entries(6, 9))  # 3..5 trimmed
    assert filled.resync is ResyncReason.HISTORY_EXHAUSTED
    assert offsets(filled) == [] and seq.position == Position(9, "e")
    assert offsets(seq.push(10, "e", frame(10))) == [10]


def test_frames_newer_than_an_exhausted_read_still_reach_clients():
    seq = Sequencer(Position(2, "e"))
    seq.push(9, "e", frame(9))
    seq.push(11, "e", frame(11))
    filled = seq.fill(Position(8, "e"), entries(6, 8))
    assert filled.resync is ResyncReason.HISTORY_EXHAUSTED
    assert offsets(filled) == [9, 11] and seq.position.offset == 11


def test_a_new_epoch_on_a_live_frame_resyncs_then_delivers_it():
    seq = Sequencer(Position(40, "old"))
    step = seq.push(1, "new", frame(1))
    assert step.resync is ResyncReason.EPOCH_CHANGED and offsets(step) == [1]
    assert seq.position == Position(1, "new")


def test_a_new_epoch_seen_by_a_fill_resyncs_and_starts_at_its_top():
    seq = Sequencer(Position(40, "old"))
    seq.resume()
    step = seq.fill(Position(3, "new"), entries(1, 3))
    assert step.resync is ResyncReason.EPOCH_CHANGED and step.deliver == []
    assert seq.position == Position(3, "new")
    assert offsets(seq.push(4, "new", frame(4))) == [4]


def test_resume_after_a_broker_outage_reads_what_was_published_meanwhile():
    seq = Sequencer(Position(10, "e"))
    step = seq.resume()
    assert step.read_after == 10
    assert seq.resume().read_after is None  # already reading
    assert offsets(seq.fill(Position(12, "e"), entries(11, 12))) == [11, 12]


def test_a_failed_read_resyncs_and_delivers_what_was_held():
    seq = Sequencer(Position(1, "e"))
    seq.push(4, "e", frame(4))
    step = seq.fail()
    assert step.resync is ResyncReason.BROKER_LOST and offsets(step) == [4]
    assert not seq.filling and seq.position.offset == 4


def test_too_many_frames_held_behind_a_hole_overflow_into_a_resync():
    seq = Sequencer(Position(0, "e"), max_pending=3)
    assert seq.push(5, "e", frame(5)).read_after == 0  # history is slow to answer
    for offset in (6, 7):
        assert seq.push(offset, "e", frame(offset)).resync is None
    step = seq.push(8, "e", frame(8))
    assert step.resync is ResyncReason.OVERFLOW and step.deliver == []
    assert seq.position.offset == 8
    late = seq.fill(Position(8, "e"), entries(1, 8))  # the slow read comes back: nothing new
    assert late.deliver == [] and late.resync is None
    assert offsets(seq.push(9, "e", frame(9))) == [9]


@given(st.permutations(list(range(1, 30))), st.integers(0, 29))
def test_any_arrival_order_with_a_full_history_delivers_each_offset_once_in_order(arrival, lost):
    """Whatever the broker loses or reorders, history fills it: 1..29 exactly once, in order."""
    seq = Sequencer(Position(0, "e"))
    delivered: list[int] = []
    reading = False
    for offset in arrival:
        if offset == lost:
            continue  # this one never arrives live
        step = seq.push(offset, "e", frame(offset))
        delivered += offsets(step)
        if step.read_after is not None:
            reading = True
    if reading or seq.position.offset < 29:
        if not seq.filling:
            seq.resume()
        step = seq.fill(Position(29, "e"), entries(seq.position.offset + 1, 29))
        assert step.resync is None
        delivered += offsets(step)
    assert delivered == list(range(1, 30))


# --- plan_recovery -----------------------------------------------------------------------

def test_a_client_gets_exactly_the_frames_it_missed():
    plan = plan_recovery(3, "e", Position(7, "e"), Position(9, "e"), entries(4, 9))
    assert plan.recovered and [o for o, _ in plan.frames] == [4, 5, 6, 7]
    assert plan.skip_through == 7


def test_a_client_that_missed_nothing_recovers_with_no_frames():
    plan = plan_recovery(7, "e", Position(7, "e"), Position(7, "e"), [])
    assert plan.recovered and plan.frames == [] and plan.skip_through == 7


def test_a_client_ahead_of_this_instance_skips_the_live_frames_it_has():
    plan = plan_recovery(9, "e", Position(7, "e"), Position(9, "e"), [])
    assert plan.recovered and plan.frames == [] and plan.skip_through == 9


def test_a_trimmed_history_is_not_a_recovery():
    plan = plan_recovery(1, "e", Position(7, "e"), Position(7, "e"), entries(4, 7))
    assert not plan.recovered and plan.reason is ResyncReason.HISTORY_EXHAUSTED
    assert plan.skip_through == 7


def test_another_epoch_is_not_a_recovery():
    plan = plan_recovery(3, "old", Position(7, "e"), Position(7, "e"), entries(4, 7))
    assert not plan.recovered and plan.reason is ResyncReason.EPOCH_CHANGED


def test_an_offset_the_epoch_never_had_is_refused():
    plan = plan_recovery(50, "e", Position(7, "e"), Position(9, "e"), [])
    assert not plan.recovered and plan.reason is ResyncReason.INVALID_POSITION
    negative = plan_recovery(-1, "e", Position(7, "e"), Position(9, "e"), [])
    assert not negative.recovered and negative.reason is ResyncReason.INVALID_POSITION


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
def test_recovery_never_sends_a_frame_twice_nor_leaves_a_hole(since, delivered, kept_from):
    """Frames sent by recovery, then live frames after skip_through: since+1, since+2, …"""
    top = delivered + 3
    history = entries(max(1, kept_from), top)
    plan = plan_recovery(since, "e", Position(delivered, "e"), Position(top, "e"), history)
    if not plan.recovered:
        return
    got = [o for o, _ in plan.frames] + list(range(plan.skip_through + 1, top + 1))
    assert got == list(range(since + 1, top + 1))


def test_a_fill_ends_the_read_so_the_next_hole_asks_history_again():
    seq = Sequencer(Position(0, "e"))
    assert seq.push(2, "e", frame(2)).read_after == 0 and seq.filling
    seq.fill(Position(2, "e"), entries(1, 2))
    assert not seq.filling
    assert seq.push(4, "e", frame(4)).read_after == 2


def test_a_stream_lost_during_a_returning_clients_read_is_not_a_recovery():
    """The read found a new epoch numbered from 1 again: its frames 3..5 are not the
    frames 3..5 the client missed."""
    plan = plan_recovery(2, "e", Position(5, "e"), Position(7, "new"), entries(3, 7))
    assert not plan.recovered and plan.reason is ResyncReason.EPOCH_CHANGED and plan.frames == []


def test_history_that_reaches_back_before_since_recovers_from_since():
    plan = plan_recovery(3, "e", Position(5, "e"), Position(5, "e"), entries(1, 5))
    assert plan.recovered and [o for o, _ in plan.frames] == [4, 5]
