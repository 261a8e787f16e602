"""No client input gives a 5xx, a 1011 or a logged traceback: it is refused with a clear answer."""

from __future__ import annotations

import logging

import pytest

from tests.support.demo import close_code, http, map_client

BIG = 2**63
BUBBLE = {"x": 1.0, "y": 2.0, "text": "edge", "color": "#abcdef"}


@pytest.fixture
def no_tracebacks(caplog):
    """Fails the test if anything was logged with an exception attached."""
    caplog.set_level(logging.ERROR)
    yield
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


@pytest.mark.parametrize("value", [
    "{id}.{sig}\u00e9",          # a non-ASCII byte in the signature
    "{id}.{sig}=",               # padded base64
    "{id}\u00e9.{sig}",          # non-ASCII in the id
    "{id}",                      # no signature
    "{id}.{sig}.{sig}",          # too many parts
    ".{sig}",                    # no id
    "{id}.",                     # empty signature
    "!!!.???",                   # not base64 at all
    "",
])
async def test_a_malformed_session_cookie_is_not_signed_in(demo, ann, no_tracebacks, value):
    session_id, signature = ann.cookie.split("=", 1)[1].split(".")
    cookie = "session=" + value.format(id=session_id, sig=signature)
    for method, path in [("GET", "/api/1/maps"), ("GET", "/admin/wsns"), ("GET", "/admin/wsns/stats")]:
        assert (await http(demo, method, path, cookie=cookie)).status == 401
    assert (await http(demo, "GET", "/api/1/session", cookie=cookie)).data["name"] is None
    assert (await http(demo, "DELETE", "/api/1/session", cookie=cookie)).status == 204
    if cookie.isascii():  # non-ASCII headers on an upgrade: see the xfail test below
        created = await ann.create_map()
        assert await close_code(demo, created["id"], cookie) == 4401


async def test_a_non_ascii_cookie_on_the_websocket_is_4401(demo, ann):
    created = await ann.create_map()
    assert await close_code(demo, created["id"], ann.cookie + "\u00e9") == 4401


@pytest.mark.parametrize("map_id", [BIG, BIG + 1, 10**30, -BIG - 1])
async def test_map_ids_beyond_64_bits_are_404_on_rest(ann, no_tracebacks, map_id):
    for method, path, data in [("GET", f"/api/1/maps/{map_id}", None),
                               ("DELETE", f"/api/1/maps/{map_id}", None),
                               ("POST", f"/api/1/maps/{map_id}/bubbles", BUBBLE),
                               ("POST", f"/api/1/maps/{map_id}/members", {"name": "ann"})]:
        reply = await ann.call(method, path, data)
        assert (reply.status, reply.data["error"]) == (404, "not_found"), (method, path)


@pytest.mark.parametrize("map_id", [BIG, 10**30])
async def test_map_ids_beyond_64_bits_are_4404_on_the_websocket(demo, ann, no_tracebacks, map_id):
    assert await close_code(demo, map_id, ann.cookie) == 4404


@pytest.mark.parametrize("type, data", [
    ("bubble-update", {"id": BIG, "version": 1, "text": "x"}),
    ("bubble-update", {"id": 1, "version": BIG, "text": "x"}),
    ("bubble-delete", {"id": BIG}),
    ("bubble-delete", {"id": 10**40}),
])
async def test_bubble_ids_beyond_64_bits_are_invalid_data_and_log_nothing(ann, no_tracebacks, type, data):
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as client:
        error = await client.request(type, data)
        assert error["type"] == "error"
        assert error["data"]["code"] == "invalid_data"
        assert (await client.request("bubble-create", BUBBLE))["type"] == "reply"  # still open


@pytest.mark.parametrize("path", ["/static/", "/static", "/static/..%2fapp.py", "/static/nope.js",
                                  "/static/%00", "/maps/99999999999999999999999", "/maps/-1"])
async def test_odd_page_urls_are_answered_without_a_server_error(demo, no_tracebacks, path):
    assert (await http(demo, "GET", path)).status < 500


@pytest.mark.parametrize("raw", [b"", b"null", b"[]", b'"x"', b"{" * 10_000, b"\xff\xfe",
                                 b'{"name": "ann", "password": null}', b'{"name": "ann"}',
                                 b'{"name": "' + b"a" * 10_000 + b'", "password": "12345678"}',
                                 b'{"name": "ann", "password": "' + b"p" * 10_000 + b'"}'],
                         ids=lambda raw: repr(raw[:24]))
async def test_bad_sign_in_bodies_are_400(demo, no_tracebacks, raw):
    reply = await http(demo, "POST", "/api/1/session", raw=raw)
    assert reply.status == 400
    assert reply.data["error"] == "invalid_data"


@pytest.mark.parametrize("path, raw", [
    ("/api/1/maps", b"{" * 10_000), ("/api/1/maps", b'{"title": "t", "private": 1e999}'),
    ("/api/1/maps/{id}/bubbles", b'{"x": 1e999, "y": 0, "text": "t", "color": "#000000"}'),
    ("/api/1/maps/{id}/bubbles", b'{"x": NaN, "y": 0, "text": "t", "color": "#000000"}'),
    ("/api/1/maps/{id}/bubbles", b'{"x": 1, "y": 0, "text": "\\ud800", "color": "#000000\\n"}'),
    ("/api/1/maps/{id}/members", b'{"name": "ann\\n"}'),
])
async def test_bad_bodies_are_400(ann, no_tracebacks, path, raw):
    created = await ann.create_map()
    reply = await ann.call("POST", path.format(id=created["id"]), raw=raw)
    assert reply.status == 400
    assert reply.data["error"] == "invalid_data"


async def test_a_body_over_64_kib_is_413(ann, no_tracebacks):
    reply = await ann.call("POST", "/api/1/maps", raw=b'{"title": "' + b"x" * 70_000 + b'"}')
    assert reply.status == 413
