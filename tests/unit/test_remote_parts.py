"""The Python client's pure parts (sanic_wsns.remote): backoff, recovery bookkeeping,
presence, the upgrade URL and the token's subprotocols, the offline queue."""

from __future__ import annotations

import asyncio
import base64

import pytest

from sanic_wsns.recovery import Position
from sanic_wsns.remote.backoff import Backoff
from sanic_wsns.remote.cli import Command, pairs, parse_line
from sanic_wsns.remote.closes import Ending, State, final_ending, is_final, retry_hint
from sanic_wsns.remote.connection import Ended
from sanic_wsns.remote.errors import Disconnected, QueueFull
from sanic_wsns.remote.heartbeat import timings
from sanic_wsns.remote.listeners import Listeners
from sanic_wsns.remote.offsets import OffsetTracker
from sanic_wsns.remote.options import Heartbeat
from sanic_wsns.remote.presence import PresenceChange, PresenceState
from sanic_wsns.remote.requests import Held, PendingRequests, SendQueue
from sanic_wsns.remote.wire import attempt_url, decode, encode, subprotocols, websocket_url


def test_backoff_caps_grow_to_the_max_and_every_delay_is_jittered_below_its_cap():
    top = Backoff(base=0.5, max=20, factor=2, random=lambda: 0.999999)
    assert [round(top.next(), 3) for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert Backoff(random=lambda: 0.0).next() == 0.0


def test_backoff_starts_again_only_after_a_stable_connection():
    clock = [0.0]
    backoff = Backoff(base=1, random=lambda: 0.999999, stable_after=10, now=lambda: clock[0])
    backoff.next(), backoff.next()
    backoff.opened()
    clock[0] = 5.0
    backoff.closed()  # welcomed then dropped at once: keeps growing
    assert backoff.failures == 2
    backoff.opened()
    clock[0] = 20.0
    backoff.closed()
    assert backoff.failures == 0


def test_offsets_ask_for_recovery_after_the_last_offset_and_drop_duplicates():
    tracker = OffsetTracker()
    assert tracker.welcome({"position": {"offset": 4, "epoch": "e"}}, reconnected=False) is False
    assert tracker.query() == {"since": "4", "epoch": "e"}
    accepted = [tracker.accept({"type": "t", "offset": n}) for n in (5, 6, 6, 5, 7)]
    assert accepted == [True, True, False, False, True]
    assert tracker.accept({"type": "no-offset"}) is True
    assert tracker.position == Position(7, "e")


def test_a_recovered_welcome_keeps_the_offset_and_a_failed_one_takes_the_servers():
    tracker = OffsetTracker()
    tracker.welcome({"position": {"offset": 3, "epoch": "e"}}, reconnected=False)
    tracker.welcome({"position": {"offset": 9, "epoch": "e"}, "recovered": True}, reconnected=True)
    assert tracker.position == Position(3, "e")  # 4..9 follow and must not be dropped
    assert tracker.welcome({"position": {"offset": 9, "epoch": "f"}, "recovered": False}, True) is False
    assert tracker.position == Position(9, "f")


def test_a_reconnect_without_history_must_resync_and_a_new_epoch_moves_the_offset():
    tracker = OffsetTracker()
    assert tracker.welcome({}, reconnected=True) is True and tracker.query() == {}
    tracker.welcome({"position": {"offset": 50, "epoch": "old"}}, reconnected=False)
    tracker.moved({"offset": 0, "epoch": "new"})
    assert tracker.accept({"type": "t", "offset": 1}) is True


def test_a_presence_diff_joining_a_present_id_overwrites_its_value_without_a_leave():
    presence = PresenceState()
    presence.reset({"a": {"name": "ann"}}, truncated=False)
    change = presence.apply({"joins": {"a": {"name": "ann", "doing": "x"}}, "leaves": {}})
    assert change == PresenceChange({"a": {"name": "ann", "doing": "x"}}, {})
    assert dict(presence.members) == {"a": {"name": "ann", "doing": "x"}}


def test_presence_state_replaces_members_and_diffs_join_before_they_leave():
    presence = PresenceState()
    view = presence.members
    assert presence.reset({"a": 1, "b": 2}, truncated=False) == PresenceChange({"a": 1, "b": 2}, {})
    assert presence.apply({"joins": {"c": 3}, "leaves": {"a": 1}}) == PresenceChange({"c": 3}, {"a": 1})
    assert presence.apply({"joins": {"d": 4}, "leaves": {"d": 4}}).joins == {"d": 4}
    assert dict(view) == {"b": 2, "c": 3}  # the same live view, and "d" came and went
    assert presence.reset({"c": 3}, truncated=True) == PresenceChange({}, {"b": 2})
    assert presence.truncated and dict(view) == {"c": 3}


def test_the_attempt_url_keeps_the_apps_query_but_never_its_since_or_epoch():
    url = attempt_url("ws://h/ws/1?since=9&x=1", {"epoch": "mine", "flag": True, "gone": None, "n": 2},
                      {"since": "4", "epoch": "e"})
    assert url == "ws://h/ws/1?x=1&flag=true&n=2&since=4&epoch=e"
    assert websocket_url("https://h/p") == "wss://h/p"
    with pytest.raises(ValueError):
        websocket_url("ftp://h/p")


def test_the_token_travels_base64url_in_a_subprotocol_after_wsns_v1():
    offered = subprotocols("a/b+c=d")
    assert offered is not None and offered[0] == "wsns.v1"
    encoded = offered[1].removeprefix("wsns.token.")
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) == b"a/b+c=d"
    assert "=" not in encoded and subprotocols(None) is None


def test_frames_encode_requests_and_decode_only_typed_objects():
    assert encode("add", {"a": 1}, 7) == b'{"type":"add","data":{"a":1},"id":7}'
    assert decode('{"type":"x","data":1}') == {"type": "x", "data": 1}
    assert [decode(text) for text in ("[1]", "{\"type\": 1}", "not json")] == [None, None, None]
    with pytest.raises(TypeError):
        encode("", None)


def test_the_send_queue_refuses_over_its_limit_and_drains_in_order():
    queue = SendQueue(2)
    queue.push(Held(b"1", id=1))
    queue.push(Held(b"2"))
    with pytest.raises(QueueFull):
        queue.push(Held(b"3"))
    queue.remove(1)
    queue.push(Held(b"3"))
    assert [held.text for held in queue.drain()] == [b"2", b"3"] and len(queue) == 0


def test_a_typed_line_is_a_message_or_with_a_question_mark_a_request():
    assert parse_line('say {"text": "hi"}\n') == Command("say", {"text": "hi"}, request=False)
    assert parse_line("?whoami") == Command("whoami", None, request=True)
    assert parse_line("   ") is None
    for bad in ("?", 'say {"text"', "? {}"):
        with pytest.raises(ValueError):
            parse_line(bad)


def test_header_and_query_options_split_at_their_first_separator():
    assert pairs(["Cookie: a=b; c=d", "X-Empty:"], ":") == {"Cookie": "a=b; c=d", "X-Empty": ""}
    with pytest.raises(ValueError):
        pairs(["no-separator"], "=")


@pytest.mark.parametrize(("ended", "final"), [
    (Ended(4401, "sign in"), (State.DENIED, Ending("unauthenticated", 4401, "sign in"))),
    (Ended(4499, ""), (State.DENIED, Ending("denied", 4499, ""))),
    (Ended(4410, "gone"), (State.CLOSED, Ending("removed", 4410, "gone"))),
    (Ended(1000, ""), (State.CLOSED, Ending("server_closed", 1000, ""))),
    (Ended(1008, "bad path"), (State.CLOSED, Ending("policy_violation", 1008, "bad path"))),
    (Ended(1006, "no", invalid_url=True), (State.CLOSED, Ending("invalid_url", 1006, "no"))),
])
def test_denials_and_final_closes_stop_the_client_with_their_reason(ended, final):
    assert is_final(ended) and final_ending(ended) == final


@pytest.mark.parametrize("code", [1001, 1006, 1009, 1011, 1012, 1013, 4000, 4001, 4500])
def test_every_other_close_is_retried(code):
    assert not is_final(Ended(code, ""))


def test_heartbeat_timings_follow_the_welcome_unless_set():
    assert timings(Heartbeat(), 20.0) == (20.0, 10.0)
    assert timings(Heartbeat(), 4) == (4.0, 4.0)
    assert timings(Heartbeat(), None) == (20.0, 10.0)
    assert timings(Heartbeat(), True) == (20.0, 10.0)
    assert timings(Heartbeat(interval=1, timeout=0.5), 30.0) == (1, 0.5)


async def test_a_failing_listener_is_logged_and_the_others_still_run(caplog):
    listeners, heard = Listeners(), []

    def broken(data: object, frame: object) -> None:
        raise RuntimeError("listener bug")

    async def broken_later(data: object, frame: object) -> None:
        raise RuntimeError("async listener bug")

    async def later(data: object, frame: object) -> None:
        heard.append(("async", data))

    for fn in (broken, broken_later, lambda data, frame: heard.append(("sync", data)), later):
        listeners.on("said", fn)
    listeners.deliver({"type": "said", "data": 1})
    assert heard == [("sync", 1)]  # sync at once; async ones run as tasks
    async with asyncio.timeout(5):  # the failed task is logged by its done callback
        while "async listener bug" not in caplog.text:
            await asyncio.sleep(0)
    assert heard == [("sync", 1), ("async", 1)] and "RuntimeError: listener bug" in caplog.text


async def test_a_drop_holds_keyed_requests_to_send_again_and_fails_the_others() -> None:
    pending = PendingRequests()
    _, plain = pending.track(sent=True)
    keyed_id, keyed = pending.track(sent=True)
    pending.keyed(keyed_id, b'{"type":"x","id":2,"key":"k"}')
    pending.track(sent=False)
    again = pending.dropped(Disconnected())
    assert again == [Held(b'{"type":"x","id":2,"key":"k"}', keyed_id)]
    with pytest.raises(Disconnected):
        await plain
    assert not keyed.done() and len(pending) == 2  # the keyed one and the held one wait
    assert pending.dropped(Disconnected()) == []  # not written since: nothing to send again
    queue = SendQueue(1)
    queue.push(Held(b"later"))
    queue.requeue(again)  # first, and past the limit: it was counted when first sent
    assert queue.drain() == [*again, Held(b"later")]


@pytest.mark.parametrize(("code", "message", "hint"), [
    (1013, "too many connections per second on this instance; retry_after=4", 4.0),
    (1013, "retry_after=2", 2.0),
    (1013, "too many connections per second: retry in 4 s", 0.0),  # an older server: no hint
    (1013, "slow consumer", 0.0),
    (1013, "x; retry_after=4 s", 0.0),
    (1011, "oops; retry_after=4", 0.0),  # only a 1013 carries one
])
def test_only_a_1013_ending_in_retry_after_carries_a_hint(code: int, message: str, hint: float):
    assert retry_hint(Ended(code, message)) == hint


def test_a_retry_hint_comes_before_the_jitter_which_is_added_to_it():
    backoff = Backoff(base=0.1, random=lambda: 0.5)
    assert backoff.next(not_before=3.0) == 3.05
    assert backoff.failures == 1
