"""Property tests (hypothesis) for the pure modules: whatever the input, only the promised
outcomes. The registry's state machine lives with its other tests (test_registry.py)."""

import contextlib
import math
import string

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sanic_wsns.errors import ConfigError, InvalidMessage
from sanic_wsns.limits import TokenBucket
from sanic_wsns.origins import origin_allowed
from sanic_wsns.paths import PathTemplate
from sanic_wsns.protocol import Incoming, decode_incoming
from sanic_wsns.relay import Kind, RelayMessage, decode_relay, encode_relay
from sanic_wsns.screening import Abort, Answer, screen

# Kept small: the whole file must stay well under 10 s on a shared 2-core machine.
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the decoder ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def decodes_or_is_invalid(frame: str | bytes) -> None:
    try:
        incoming = decode_incoming(frame)
    except InvalidMessage:
        return
    assert isinstance(incoming, Incoming) and isinstance(incoming.type, str)
    assert incoming.id is None or incoming.id >= 1


@FAST
@given(st.text() | st.binary())
def test_arbitrary_text_and_bytes_decode_or_raise_invalid_message_only(frame):
    decodes_or_is_invalid(frame)


@FAST
@given(st.fixed_dictionaries({"type": st.text() | json_values},
                             optional={"data": json_values, "id": json_values}))
def test_arbitrary_envelopes_decode_or_raise_invalid_message_only(envelope):
    decodes_or_is_invalid(msgspec.json.encode(envelope))


@FAST
@given(depth=st.integers(1, 20_000), opener=st.sampled_from(["[", '{"k":']),
       closed=st.booleans(), wrapped=st.booleans())
def test_nesting_of_any_depth_decodes_or_raises_invalid_message_only(depth, opener, closed, wrapped):
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + ("1" if opener != "[" else "") + (closer * depth if closed else "")
    decodes_or_is_invalid('{"type": "t", "data": ' + nested + "}" if wrapped else nested)


@FAST
@given(st.lists(st.text() | st.binary(), max_size=30))
def test_screening_any_frames_only_hands_over_incoming_answers_or_aborts(frames):
    bucket = TokenBucket(rate=1.0, burst=5, now=0.0, abuse_limit=10)
    for frame in frames:
        verdict = screen(frame, bucket, 0.0)
        assert type(verdict) in (Incoming, Answer, Abort)
        if type(verdict) is Answer:
            assert msgspec.json.decode(verdict.payload)["type"] in ("error", "pong")


# -- path templates ---------------------------------------------------------------------------

TEMPLATE = PathTemplate("/rooms/<name:str>/<n:int>/<tag:slug>")
slugs = st.lists(st.text("az09", min_size=1, max_size=4), min_size=1, max_size=3).map("-".join)


@FAST
@given(name=st.text(min_size=1).filter(lambda s: "/" not in s), n=st.integers(), tag=slugs)
def test_a_path_template_round_trips_its_params(name, n, tag):
    params = {"name": name, "n": n, "tag": tag}
    path = TEMPLATE.format(params)
    assert TEMPLATE.match(path) == params
    assert path.count("/") == 4  # every value stays inside its own segment


@FAST
@given(before=st.text(), after=st.text())
def test_a_value_with_a_slash_is_refused(before, after):
    with pytest.raises(ValueError):
        TEMPLATE.format({"name": before + "/" + after, "n": 1, "tag": "a"})


@FAST
@given(st.text(alphabet=string.ascii_letters + "<>:/_", max_size=20))
def test_declaring_any_pattern_works_or_raises_config_error(pattern):
    with contextlib.suppress(ConfigError):
        PathTemplate(pattern)


# -- the origin rule --------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
schemes = st.sampled_from(list(DEFAULT_PORTS))
hosts = st.sampled_from(["app.example", "APP.example", "other.example", "127.0.0.1"])
ports = st.sampled_from([None, 80, 443, 8080])


def authority(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


def same_origin_model(scheme, o_host, o_port, h_host, h_port) -> bool:
    """Reference: equal hostnames (case-insensitively) and equal ports once each missing
    port is read as the origin scheme's default."""
    default = DEFAULT_PORTS[scheme]
    return o_host.lower() == h_host.lower() and (o_port or default) == (h_port or default)


@settings(max_examples=300, deadline=None)
@given(scheme=schemes, o_host=hosts, o_port=ports, same_host=st.booleans(), other_host=hosts,
       h_port=ports, slash=st.booleans(),
       listed=st.sampled_from([(), (), ("*",), ("https://app.example",)]))
def test_the_origin_rule_agrees_with_its_reference_model(scheme, o_host, o_port, same_host, other_host,
                                                         h_port, slash, listed):
    h_host = o_host if same_host else other_host
    origin = f"{scheme}://{authority(o_host, o_port)}" + ("/" if slash else "")
    expected = (
        "*" in listed
        or any(origin.rstrip("/").lower() == entry for entry in listed)
        or same_origin_model(scheme, o_host, o_port, h_host, h_port)
    )
    assert origin_allowed(origin, authority(h_host, h_port), listed) is expected


@FAST
@given(st.text(), st.none() | st.text())
def test_the_origin_rule_never_raises(origin, host):
    assert origin_allowed(origin, host) in (True, False)


# -- the token bucket -------------------------------------------------------------------------

@FAST
@given(rate=st.floats(0.1, 1000), burst=st.integers(1, 200),
       steps=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 300)), min_size=1, max_size=50))
def test_the_token_bucket_never_allows_more_than_burst_plus_rate_times_elapsed(rate, burst, steps):
    bucket = TokenBucket(rate=rate, burst=burst, now=0.0)
    now, allowed = 0.0, 0
    for gap, flood in steps:  # ``flood`` messages arrive at the same instant
        now += gap
        allowed += sum(bucket.take(now) for _ in range(flood))
        assert allowed <= burst + rate * now + 1e-6
    assert 0.0 <= bucket.retry_after() < math.inf


# -- relay decoding ---------------------------------------------------------------------------

relay_messages = st.builds(
    RelayMessage, origin=st.text(), kind=st.sampled_from(list(Kind)), frame=st.binary(),
    exclude=st.lists(st.text(), max_size=5).map(tuple), code=st.integers(0, 4999), reason=st.text(),
)


@FAST
@given(relay_messages)
def test_relay_messages_round_trip(message):
    assert decode_relay(encode_relay(message)) == message


@FAST
@given(st.binary() | json_values.map(msgspec.msgpack.encode))
def test_any_broker_payload_decodes_or_raises_a_msgspec_error_only(payload):
    try:
        message = decode_relay(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return
    assert isinstance(message, RelayMessage)
