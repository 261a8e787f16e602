"""The Python client's SSE parts without I/O: the event-stream parser, the URLs, refusals,
and the heartbeat's wait on a stream that cannot be pinged."""

from __future__ import annotations

import pytest

from sanic_wsns.remote.connection import Ended
from sanic_wsns.remote.eventstream import COMMENT, EventStreamParser, EventTooLarge
from sanic_wsns.remote.heartbeat import timings
from sanic_wsns.remote.options import Heartbeat
from sanic_wsns.remote.sse import _refusal
from sanic_wsns.remote.wire import sse_url


def test_events_split_anywhere_even_inside_a_character_come_out_whole():
    stream = ': wsns\n\nevent: said\nid: e:5\ndata: {"type":"said","data":"héllo"}\r\n\r\n'.encode()
    parser = EventStreamParser()
    found = [item for i in range(len(stream)) for item in parser.feed(stream[i:i + 1])]
    assert found == [COMMENT, '{"type":"said","data":"héllo"}']


def test_data_lines_of_one_event_are_joined_with_newlines():
    assert EventStreamParser().feed(b"data: a\ndata:b\n\n") == ["a\nb"]


def test_an_event_over_the_limit_is_refused_even_when_it_comes_whole_in_one_chunk():
    with pytest.raises(EventTooLarge):
        EventStreamParser(limit=100).feed(b"data: " + b"x" * 101 + b"\n\n")


def test_an_event_that_never_ends_is_cut_at_the_limit_not_held_forever():
    parser = EventStreamParser(limit=100)
    parser.feed(b"data: " + b"x" * 90 + b"\n")
    with pytest.raises(EventTooLarge):
        parser.feed(b"data: " + b"x" * 20)


def test_the_sse_url_puts_the_prefix_before_the_path_on_the_same_host():
    assert sse_url("ws://h:1/ws/rooms/1?a=b", "/wsns/sse") == "http://h:1/wsns/sse/ws/rooms/1?a=b"
    assert sse_url("https://h/ws/rooms/1", "/sse/") == "https://h/sse/ws/rooms/1"


def test_a_refused_stream_is_the_close_a_websocket_would_get():
    assert _refusal(403, b'{"code":"forbidden","message":"private"}') == Ended(4403, "private")
    assert _refusal(401, b'{"code":"expired","message":"token expired"}').code == 4001
    assert _refusal(503, b"").code == 1013
    assert _refusal(400, b'{"code":"bad_request","message":"too long"}') == Ended(1008, "too long")
    assert _refusal(502, b"<html>bad gateway</html>").code == 1006


def test_a_stream_waits_a_whole_served_interval_more_for_the_servers_comment():
    assert timings(Heartbeat(), 20, pingable=True) == (20.0, 10.0)
    assert timings(Heartbeat(), 20, pingable=False) == (20.0, 30.0)
