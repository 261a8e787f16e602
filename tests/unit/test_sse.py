"""SSE event encoding and positions read back (sse.py), without I/O."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sanic_wsns.protocol import encode, ws_text_frame
from sanic_wsns.recovery import INVALID_SINCE, Position, requested_position
from sanic_wsns.sse import FrameEvents, event, payload, post_answer, requested


def fields(made: bytes) -> list[tuple[str, str]]:
    """An event's lines as (field, value), as an EventSource parses them."""
    assert made.endswith(b"\n\n") and made.count(b"\n\n") == 1, made
    lines = made[:-2].decode().split("\n")
    return [(name, value[1:]) for name, _, value in (line.partition(":") for line in lines)]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70_000])
def test_payload_takes_the_json_out_of_a_frame_of_any_length(size: int) -> None:
    json = encode("say", "x" * size)
    assert payload(ws_text_frame(json)) == json


@given(st.text())
def test_a_frame_with_line_breaks_in_its_strings_is_one_data_line(text: str) -> None:
    json = encode("say", {"text": text, "more": [text, "\r\n\n\r"]})
    assert b"\n" not in json and b"\r" not in json  # msgspec escapes them: one line
    made = FrameEvents().encode(ws_text_frame(json))
    assert fields(made) == [("event", "say"), ("data", json.decode())]
    assert msgspec.json.decode(fields(made)[1][1]) == {"type": "say", "data": {"text": text,
                                                                               "more": [text, "\r\n\n\r"]}}


def test_raw_line_breaks_become_data_lines_never_a_new_field_or_event() -> None:
    made = event("x\nid: 9", b'{"a":\n1}\r\n\r\nevent: evil')
    assert fields(made) == [("event", "x id: 9"), ("data", '{"a":'), ("data", "1}"), ("data", ""),
                            ("data", "event: evil")]


def test_numbered_frames_get_an_id_in_the_epoch_the_welcome_or_a_resync_gave() -> None:
    events = FrameEvents()
    welcome = encode("welcome", {"client_id": "c", "position": Position(4, "ep1")})
    made = events.encode(ws_text_frame(welcome), {"client_token": "c.sig"})
    assert ("id", "ep1:4") in fields(made)
    assert msgspec.json.decode(fields(made)[-1][1])["data"] == {"client_id": "c", "position": {
        "offset": 4, "epoch": "ep1"}, "client_token": "c.sig"}
    numbered = ws_text_frame(b'{"type":"edited","data":1,"offset":5}')
    assert fields(events.encode(numbered))[:2] == [("event", "edited"), ("id", "ep1:5")]
    moved = encode("resync", {"reason": "epoch_changed", "position": Position(0, "ep2")})
    assert ("id", "ep2:0") in fields(events.encode(ws_text_frame(moved)))
    assert ("id", "ep2:1") in fields(events.encode(ws_text_frame(b'{"type":"e","data":1,"offset":1}')))
    unmoved = encode("resync", {"reason": "history_exhausted"})
    assert [name for name, _ in fields(events.encode(ws_text_frame(unmoved)))] == ["event", "data"]


def test_one_broadcast_is_encoded_once_for_every_stream_of_its_epoch() -> None:
    frame = ws_text_frame(b'{"type":"edited","data":1,"offset":5}')
    first, second = FrameEvents(), FrameEvents()
    first.epoch = second.epoch = "e"
    assert first.encode(frame) is second.encode(frame)
    assert first.chunk(frame) is second.chunk(frame)  # chunked once too, not once per client
    assert first.chunk(frame) == b"%x\r\n%b\r\n" % (len(first.encode(frame)), first.encode(frame))
    second.epoch = "other"
    assert fields(second.encode(frame))[1] == ("id", "other:5")


@pytest.mark.parametrize("header, expected", [
    ("ep1:42", ("42", "ep1")),
    (None, ("7", "e")),  # the query then
    ("", ("7", "e")),
    ("garbage", ("-", None)),
    ("a:b:c", ("c", "a:b")),
    ("x" * 100 + ":1", ("-", None)),
])
def test_last_event_id_is_read_back_into_since_and_epoch(header: str | None, expected: tuple) -> None:
    assert requested(header, "7", "e") == expected


@given(st.text(max_size=200))
def test_any_last_event_id_gives_a_position_or_invalid_position_never_an_error(header: str) -> None:
    since, _ = requested_position(*requested(header, None, None))
    if not header:  # an empty header is no header: the client did not ask
        assert since is None
    else:
        assert since == INVALID_SINCE or (isinstance(since, int) and since >= 0)


def test_a_post_answer_is_built_from_the_encoded_frames() -> None:
    reply = encode("reply", 3, 7)
    assert msgspec.json.decode(post_answer(reply, [encode("a", 1), encode("b", None)])) == {
        "reply": {"type": "reply", "data": 3, "id": 7},
        "frames": [{"type": "a", "data": 1}, {"type": "b", "data": None}]}
    assert msgspec.json.decode(post_answer(None, [])) == {"reply": None, "frames": []}


def test_an_apps_own_frame_named_like_a_reserved_one_is_an_event_without_an_id() -> None:
    events = FrameEvents()
    for data in ("x", {"position": "garbage"}, {"position": {"offset": "1"}}, None):
        made = events.encode(ws_text_frame(encode("resync", data)))
        assert [name for name, _ in fields(made)] == ["event", "data"]
    assert events.epoch == ""
