"""bubblemap over HTTP: sessions, maps, members, REST bubbles, the page and the admin view."""

from __future__ import annotations

from unittest.mock import ANY

import pytest

from tests.support.demo import PASSWORD, http, sign_in

BUBBLE = {"x": 10.0, "y": 20.0, "text": "hi", "color": "#3366cc"}


# -- sessions (accounts and revocation: test_accounts.py) --------------------------------

async def test_sign_in_sets_an_httponly_lax_session_cookie_not_secure_over_http(demo):
    reply = await http(demo, "POST", "/api/1/session", {"name": "ann", "password": PASSWORD})
    assert reply.status == 200
    assert reply.data == {"name": "ann", "admin": False, "registered": True, "map_lists": ANY}
    attributes = [a.strip().lower() for a in reply.headers["Set-Cookie"].split(";")]
    assert attributes[0].startswith("session=")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes


async def test_session_endpoint_tells_who_is_signed_in(demo, ann):
    assert (await ann.call("GET", "/api/1/session")).data == {"name": "ann", "admin": False, "map_lists": ANY}
    assert (await http(demo, "GET", "/api/1/session")).data == {"name": None, "admin": False, "map_lists": []}


async def test_sign_out_clears_the_cookie(ann):
    reply = await ann.call("DELETE", "/api/1/session")
    assert reply.status == 204
    assert "max-age=0" in reply.headers["Set-Cookie"].lower()


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 33}, {"name": "<script>"},
                                  {"name": " ann"}, {"name": 5}, {"name": "ann\n"},
                                  {"name": "ann", "admin": True}])
async def test_sign_in_rejects_invalid_names(demo, body):
    reply = await http(demo, "POST", "/api/1/session", {"password": PASSWORD, **body})
    assert reply.status == 400
    assert reply.data["error"] == "invalid_data"


async def test_api_without_session_is_401(demo):
    reply = await http(demo, "GET", "/api/1/maps")
    assert reply.status == 401
    assert reply.data["error"] == "unauthorized"


async def test_forged_cookie_is_401(demo, ann):
    name, value = ann.cookie.split("=", 1)
    payload, signature = value.split(".")
    reply = await http(demo, "GET", "/api/1/maps", cookie=f"{name}={payload}.{signature[::-1]}")
    assert reply.status == 401


# -- maps ---------------------------------------------------------------------------------

async def test_create_map_answers_201_with_the_map(ann):
    reply = await ann.call("POST", "/api/1/maps", {"title": "  Roadmap  ", "private": True})
    assert reply.status == 201
    assert reply.data == {"id": reply.data["id"], "title": "Roadmap", "owner": "ann", "private": True,
                          "members": [], "revision": 1}


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "   "}, {"title": "x" * 101},
                                  {"title": "ok", "private": "yes"}])
async def test_create_map_rejects_invalid_bodies(ann, body):
    reply = await ann.call("POST", "/api/1/maps", body)
    assert reply.status == 400
    assert reply.data["error"] == "invalid_data"


async def test_malformed_json_is_400(ann):
    reply = await ann.call("POST", "/api/1/maps", raw=b"{not json")
    assert reply.status == 400


async def test_map_list_shows_public_maps_and_private_ones_one_belongs_to(ann, bob):
    public = await ann.create_map("Public", private=False)
    secret = await ann.create_map("Secret", private=True)
    shared = await ann.create_map("Shared", private=True)
    await ann.call("POST", f"/api/1/maps/{shared['id']}/members", {"name": "bob"})
    ann_sees = [m["id"] for m in (await ann.call("GET", "/api/1/maps")).data["maps"]]
    bob_sees = [m["id"] for m in (await bob.call("GET", "/api/1/maps")).data["maps"]]
    assert ann_sees == [shared["id"], secret["id"], public["id"]]
    assert bob_sees == [shared["id"], public["id"]]


async def test_get_map_returns_map_and_bubbles(ann):
    created = await ann.create_map("Board")
    bubble = (await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)).data
    reply = await ann.call("GET", f"/api/1/maps/{created['id']}")
    # A bubble is a change to the map too: one revision more.
    changed = {**created, "revision": created["revision"] + 1}
    assert reply.data == {"map": changed, "bubbles": [bubble], "last_bubble_id": bubble["id"]}


async def test_private_map_is_403_for_non_members_and_unknown_map_404(ann, bob):
    secret = await ann.create_map("Secret", private=True)
    assert (await bob.call("GET", f"/api/1/maps/{secret['id']}")).status == 403
    assert (await bob.call("POST", f"/api/1/maps/{secret['id']}/bubbles", BUBBLE)).status == 403
    assert (await bob.call("GET", "/api/1/maps/999")).status == 404


async def test_only_the_owner_may_invite(ann, bob):
    public = await ann.create_map("Public")
    reply = await bob.call("POST", f"/api/1/maps/{public['id']}/members", {"name": "bob"})
    assert reply.status == 403
    reply = await ann.call("POST", f"/api/1/maps/{public['id']}/members", {"name": "bob"})
    assert reply.status == 200
    assert reply.data["members"] == ["bob"]


async def test_invited_member_opens_private_map(ann, bob):
    secret = await ann.create_map("Secret", private=True)
    await ann.call("POST", f"/api/1/maps/{secret['id']}/members", {"name": "bob"})
    assert (await bob.call("GET", f"/api/1/maps/{secret['id']}")).status == 200


async def test_only_the_owner_may_delete_a_map(ann, bob):
    public = await ann.create_map("Public")
    assert (await bob.call("DELETE", f"/api/1/maps/{public['id']}")).status == 403
    assert (await ann.call("DELETE", f"/api/1/maps/{public['id']}")).status == 204
    assert (await ann.call("GET", f"/api/1/maps/{public['id']}")).status == 404
    assert (await ann.call("DELETE", f"/api/1/maps/{public['id']}")).status == 404


async def test_map_ids_are_not_reused_after_delete(ann):
    first = await ann.create_map("One")
    await ann.call("DELETE", f"/api/1/maps/{first['id']}")
    assert (await ann.create_map("Two"))["id"] > first["id"]


# -- REST bubbles -------------------------------------------------------------------------

async def test_rest_create_bubble_answers_201_with_version_1(ann):
    created = await ann.create_map()
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
    assert reply.status == 201
    assert reply.data == {**BUBBLE, "id": reply.data["id"], "version": 1, "edited_by": "ann",
                          "edited_at": reply.data["edited_at"]}


@pytest.mark.parametrize("body", [{**BUBBLE, "text": "x" * 501}, {**BUBBLE, "color": "blue"},
                                  {**BUBBLE, "x": 1e200}, {"x": 1, "y": 2}, {**BUBBLE, "y": "2"}])
async def test_rest_create_bubble_validates_and_stores_nothing(ann, body):
    created = await ann.create_map()
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", body)
    assert reply.status == 400
    assert reply.data["error"] == "invalid_data"
    assert await ann.bubbles(created["id"]) == []


async def test_rest_create_bubble_on_unknown_map_is_404(ann):
    assert (await ann.call("POST", "/api/1/maps/999/bubbles", BUBBLE)).status == 404


# -- page and admin -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/maps/7"])
async def test_page_is_served_for_home_and_map_urls(demo, path):
    reply = await http(demo, "GET", path)
    assert reply.status == 200
    assert b'src="/static/app.js"' in reply.body
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/static/app.js", "/static/style.css", "/wsns/client.js"])
async def test_page_assets_are_served(demo, path):
    assert (await http(demo, "GET", path)).status == 200


async def test_admin_page_and_stats_need_an_admin_session(demo, ann):
    assert (await http(demo, "GET", "/admin/wsns")).status == 401
    assert (await http(demo, "GET", "/admin/wsns/stats")).status == 401
    assert (await ann.call("GET", "/admin/wsns")).status == 403
    assert (await ann.call("GET", "/admin/wsns/stats")).status == 403


async def test_admin_sees_this_instances_live_stats(demo):
    root = await sign_in(demo, "root")
    me = (await root.call("GET", "/api/1/session")).data
    assert me == {"name": "root", "admin": True, "map_lists": ANY}
    page = await root.call("GET", "/admin/wsns")
    assert page.status == 200
    stats = (await root.call("GET", "/admin/wsns/stats")).data
    assert stats["totals"]["namespaces"] == 0
    assert {"instance", "broker", "namespaces"} <= stats.keys()
