"""Frame screening as a pure decision: rate limit, envelope, ping, over a hand-driven clock."""

import json

from sanic_wsns.errors import CloseCode
from sanic_wsns.limits import TokenBucket
from sanic_wsns.protocol import Incoming
from sanic_wsns.screening import Abort, Answer, screen


def bucket(burst: int = 10, abuse_limit: int = 1000) -> TokenBucket:
    return TokenBucket(rate=1.0, burst=burst, now=0.0, abuse_limit=abuse_limit, abuse_window=10.0)


def answered(verdict) -> dict:
    assert type(verdict) is Answer, verdict
    return json.loads(verdict.payload)


def test_a_message_for_a_handler_comes_back_as_incoming():
    verdict = screen('{"type": "add", "data": {"a": 1}, "id": 3}', bucket(), 0.0)
    assert type(verdict) is Incoming and (verdict.type, verdict.id) == ("add", 3)


def test_a_ping_is_answered_by_a_pong_with_its_data_and_id():
    frame = answered(screen('{"type": "ping", "data": "x", "id": 9}', bucket(), 0.0))
    assert frame == {"type": "pong", "data": "x", "id": 9}


def test_a_malformed_frame_is_answered_invalid_message_without_id():
    frame = answered(screen("{nope", bucket(), 0.0))
    assert frame["type"] == "error" and "id" not in frame
    assert frame["data"]["code"] == "invalid_message"


def test_a_deeply_nested_frame_is_answered_invalid_message():
    frame = answered(screen('{"type": "a", "data": ' + "[" * 2000 + "]" * 2000 + "}", bucket(), 0.0))
    assert frame["data"] == {"code": "invalid_message", "message": "frame nests too deeply"}


def test_a_binary_frame_is_answered_invalid_message():
    frame = answered(screen(b'{"type": "add"}', bucket(), 0.0))
    assert frame["data"]["code"] == "invalid_message" and "binary" in frame["data"]["message"]


def test_over_the_limit_a_message_is_dropped_and_answered_rate_limited_with_its_id():
    limited = bucket(burst=1)
    assert type(screen('{"type": "add"}', limited, 0.0)) is Incoming
    verdict = screen('{"type": "add", "id": 5}', limited, 0.5)
    frame = answered(verdict)
    assert verdict.dropped == "rate_limited"
    assert frame["id"] == 5 and frame["data"]["code"] == "rate_limited"
    assert frame["data"]["details"] == {"retry_after": 0.5}


def test_over_the_limit_pings_and_malformed_frames_are_limited_too():
    limited = bucket(burst=1)
    screen('{"type": "add"}', limited, 0.0)
    for message in ('{"type": "ping"}', "{nope", b"bin"):
        verdict = screen(message, limited, 0.0)
        assert answered(verdict)["data"]["code"] == "rate_limited" and verdict.dropped == "rate_limited"


def test_a_client_that_keeps_going_after_being_told_is_aborted_1008():
    limited = bucket(burst=1, abuse_limit=3)
    verdicts = [screen('{"type": "add"}', limited, 0.0) for _ in range(6)]
    assert [type(v) for v in verdicts] == [Incoming, Answer, Answer, Answer, Abort, Abort]
    assert verdicts[-1] == Abort(CloseCode.POLICY_VIOLATION, "rate limit exceeded repeatedly")
