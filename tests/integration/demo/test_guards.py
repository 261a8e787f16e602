"""CSRF rules and security headers: what every request and response of the demo goes through."""

from __future__ import annotations

import pytest

from tests.support.demo import http, sign_in

BUBBLE = {"x": 1.0, "y": 2.0, "text": "csrf", "color": "#123456"}


# -- CSRF: unsafe methods need JSON, and the same origin when an Origin is sent ---------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/json-patch"])
async def test_an_unsafe_request_that_is_not_json_is_415_and_changes_nothing(ann, content_type):
    created = await ann.create_map()
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE,
                           headers={"Content-Type": content_type})
    assert reply.status == 415
    assert reply.data["error"] == "unsupported_media_type"
    assert await ann.bubbles(created["id"]) == []


async def test_json_with_a_charset_parameter_is_json(ann):
    reply = await ann.call("POST", "/api/1/maps", {"title": "Charset"},
                           headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert reply.status == 201


async def test_delete_needs_the_json_content_type_too(ann):
    created = await ann.create_map()
    reply = await ann.call("DELETE", f"/api/1/maps/{created['id']}", headers={"Content-Type": ""})
    assert reply.status == 415
    assert (await ann.call("GET", f"/api/1/maps/{created['id']}")).status == 200


async def test_a_request_from_another_origin_of_the_same_host_is_403(demo, ann):
    created = await ann.create_map("Private", private=True)
    other_port = f"http://127.0.0.1:{demo.port + 1}"
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/members", {"name": "ann"},
                           headers={"Origin": other_port})
    assert reply.status == 403
    assert reply.data == {"error": "forbidden", "message": "cross-origin request refused"}


async def test_sign_in_from_another_origin_is_403(demo):
    reply = await http(demo, "POST", "/api/1/session", {"name": "eve", "password": "x" * 8},
                       headers={"Origin": "http://evil.example"})
    assert reply.status == 403


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1", "http://localhost:{port}"])
async def test_origins_whose_host_and_port_are_not_this_ones_are_403(demo, ann, origin):
    reply = await ann.call("POST", "/api/1/maps", {"title": "X"},
                           headers={"Origin": origin.format(port=demo.port)})
    assert reply.status == 403


async def test_a_request_from_this_origin_is_allowed(demo, ann):
    reply = await ann.call("POST", "/api/1/maps", {"title": "Mine"},
                           headers={"Origin": f"http://127.0.0.1:{demo.port}"})
    assert reply.status == 201


async def test_safe_methods_need_neither(demo, ann):
    reply = await ann.call("GET", "/api/1/maps", headers={"Content-Type": "text/plain",
                                                          "Origin": "http://evil.example"})
    assert reply.status == 200


# -- headers --------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/"), ("GET", "/static/app.js"), ("GET", "/wsns/client.js"), ("GET", "/api/1/session"),
    ("GET", "/api/1/maps"), ("GET", "/no/such/page"), ("GET", "/admin/wsns"),
    ("POST", "/api/1/session"),
])
async def test_every_response_says_nosniff_and_keeps_the_referrer_on_this_origin(demo, method, path):
    reply = await http(demo, method, path)
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/maps/3", "/static/index.html", "/static/admin.html"])
async def test_every_page_forbids_framing_whatever_url_serves_it(demo, path):
    reply = await http(demo, "GET", path)
    assert reply.status == 200
    assert reply.headers.get_content_type() == "text/html"
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]


async def test_the_admin_page_forbids_framing(demo):
    root = await sign_in(demo, "root")
    reply = await root.call("GET", "/admin/wsns")
    assert reply.status == 200
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]


async def test_the_admin_pages_refusals_are_styled_pages_that_say_why(demo, ann):
    refusals = [(await http(demo, "GET", "/admin/wsns"), 401, b"Sign in first"),
                (await ann.call("GET", "/admin/wsns"), 403, b"Admins only")]
    for reply, status, title in refusals:
        assert reply.status == status
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'href="/static/style.css"' in reply.body and title in reply.body
        assert f'data-status="{status}"'.encode() in reply.body
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
