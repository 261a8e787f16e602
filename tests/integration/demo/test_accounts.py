"""Accounts: the first sign-in registers a name, later ones must give its password; names
that read the same are one account; admins are created at start; failures are throttled;
signing out ends the session everywhere (across instances: test_instances.py)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from unittest.mock import ANY

import pytest

from demo_app.accounts import hash_password, name_key, verify_password
from demo_app.limits import Limits
from demo_app.store import users
from demo_app.throttle import Rate
from sanic_wsns import remote
from tests.support.demo import (
    PASSWORD,
    TIMEOUT,
    close_code,
    http,
    map_client,
    map_url,
    running_demo,
    sign_in,
    wait_closed,
)

#: How long a sign-in must stay waiting while every hashing thread is held.
HELD_S = 1.0


async def attempt(server, name: str, password: str):
    return await http(server, "POST", "/api/1/session", {"name": name, "password": password})


# -- registering and signing in -------------------------------------------------------------

async def test_the_first_sign_in_registers_the_name_and_later_ones_need_its_password(demo):
    first = await attempt(demo, "ann", PASSWORD)
    assert (first.status, first.data["registered"]) == (200, True)
    again = await attempt(demo, "ann", PASSWORD)
    assert (again.status, again.data["registered"]) == (200, False)
    wrong = await attempt(demo, "ann", "not the password")
    assert wrong.status == 401
    assert wrong.data == {"error": "unauthorized", "message": "wrong name or password"}
    assert "Set-Cookie" not in wrong.headers


@pytest.mark.parametrize("password", ["", "seven77", "x" * 257])
async def test_a_password_shorter_than_8_or_longer_than_256_is_400(demo, password):
    reply = await attempt(demo, "ann", password)
    assert (reply.status, reply.data["error"]) == (400, "invalid_data")


@pytest.mark.parametrize("spelling", ["ADA", "\uff41\uff44\uff41", "Ada"])
async def test_names_that_read_the_same_are_one_account_shown_as_first_typed(demo, spelling):
    assert (await attempt(demo, "ada", PASSWORD)).data["registered"] is True
    same = await attempt(demo, spelling, PASSWORD)
    assert same.data == {"name": "ada", "admin": False, "registered": False, "map_lists": ANY}
    assert (await attempt(demo, spelling, "another password")).status == 401


async def test_a_name_with_a_trailing_newline_is_refused(demo):
    reply = await attempt(demo, "ada\n", PASSWORD)
    assert (reply.status, reply.data["error"]) == (400, "invalid_data")


async def test_maps_belong_to_the_account_whichever_spelling_signs_in(demo):
    ann = await sign_in(demo, "Ann")
    private = await ann.create_map("Mine", private=True)
    shouting = await sign_in(demo, "ANN")
    assert (await shouting.call("GET", f"/api/1/maps/{private['id']}")).data["map"]["owner"] == "Ann"
    assert (await shouting.call("DELETE", f"/api/1/maps/{private['id']}")).status == 204


async def test_members_are_accounts_named_in_any_spelling(ann, bob):
    private = await ann.create_map("Secret", private=True)
    reply = await ann.call("POST", f"/api/1/maps/{private['id']}/members", {"name": "BOB"})
    assert reply.data["members"] == ["bob"]
    assert (await bob.call("GET", f"/api/1/maps/{private['id']}")).status == 200
    unknown = await ann.call("POST", f"/api/1/maps/{private['id']}/members", {"name": "nobody"})
    assert (unknown.status, unknown.data["error"]) == (404, "not_found")


async def test_passwords_are_stored_as_salted_scrypt_hashes(demo, ann, bob):
    rows = demo.app.ctx.store.db.execute(
        "SELECT key, password FROM users WHERE key IN ('ann', 'bob') ORDER BY key").fetchall()
    ann_hash, bob_hash = (r[1] for r in rows)
    assert ann_hash.startswith("scrypt$16384$8$1$") and PASSWORD not in ann_hash
    assert ann_hash != bob_hash  # the same password, two salts
    assert verify_password(PASSWORD, ann_hash) and not verify_password(PASSWORD + "!", ann_hash)


def test_verify_refuses_a_damaged_hash_instead_of_raising():
    stored = hash_password(PASSWORD)
    for damaged in ["", "scrypt$x", stored.replace("scrypt", "md5"), stored[:-8] + "!!!!!!!!",
                    stored.replace("$16384$", "$-1$")]:
        assert verify_password(PASSWORD, damaged) is False


def test_name_keys_fold_case_and_width_and_keep_distinct_names_distinct():
    assert name_key("ADA") == name_key("\uff41\uff44\uff41") == name_key("ada") == name_key("Ada")
    assert name_key("Stra\u00dfe") == name_key("STRASSE")
    assert len({name_key(n) for n in ["ada", "ad\u00e1", "ada.", "ad a"]}) == 4


@pytest.mark.parametrize("look_alike", ["r\u043e\u043et", "r\u043eot", "r\u03bf\u03bft", "R\u041e\u041eT"])
async def test_a_name_that_looks_like_an_existing_one_is_refused_as_taken(demo, look_alike):
    """``root`` is the demo's admin; Cyrillic or Greek letters drawn like Latin ones."""
    reply = await attempt(demo, look_alike, PASSWORD)
    assert reply.status == 409
    assert reply.data["error"] == "conflict" and reply.data["details"] == {"reason": "name_taken"}
    assert await demo.app.ctx.store.read(users.account, name_key(look_alike)) is None


async def test_names_in_other_scripts_that_look_like_no_account_register(demo):
    assert (await attempt(demo, "\u041e\u043b\u044f", PASSWORD)).status == 200  # Оля
    assert (await attempt(demo, "\u03c3\u03bf\u03c6\u03af\u03b1", PASSWORD)).status == 200  # σοφία


async def test_accounts_of_an_older_database_get_their_skeleton_when_it_opens(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as old:  # the users table before names had skeletons
        old.execute("CREATE TABLE users (key TEXT PRIMARY KEY, name TEXT NOT NULL, "
                    "password TEXT NOT NULL, created REAL NOT NULL)")
        old.execute("INSERT INTO users VALUES ('ada', 'Ada', 'x', 0)")
    async with running_demo(db) as demo:
        reply = await attempt(demo, "\u0410da", PASSWORD)  # a Cyrillic capital A
        assert reply.status == 409 and reply.data["details"] == {"reason": "name_taken"}


# -- throttled failures -------------------------------------------------------------------

async def test_repeated_wrong_passwords_for_a_name_are_429_with_retry_after(tmp_path):
    limits = Limits(sign_in=Rate(per_second=0.001, burst=3))
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as demo:
        await attempt(demo, "ann", PASSWORD)
        answers = [(await attempt(demo, "ann", f"guess number {i}")).status for i in range(3)]
        assert answers == [401, 401, 401]
        limited = await attempt(demo, "ann", PASSWORD)  # even the right one, for now
        assert limited.status == 429
        assert limited.data["error"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await attempt(demo, "bob", PASSWORD)).status == 200  # other names are not held up


async def test_a_successful_sign_in_gives_back_only_its_own_failure_token(tmp_path):
    """Failures are what the guessing limit counts: a success between them cancels only
    itself, so guesses interleaved with one's own sign-ins still run out."""
    limits = Limits(sign_in=Rate(per_second=0.001, burst=3))
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as demo:
        answers = []
        for password in (PASSWORD, "wrong guess 1", PASSWORD, "wrong guess 2", PASSWORD, "wrong guess 3",
                         PASSWORD):
            answers.append((await attempt(demo, "ann", password)).status)
        assert answers == [200, 401, 200, 401, 200, 401, 429]


async def test_successful_sign_ins_are_throttled_too(tmp_path):
    """Each costs a hash: one account signed in 27 times a second when only failures counted."""
    limits = Limits(sign_in_per_name=Rate(per_second=0.001, burst=3))
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as demo:
        answers = [(await attempt(demo, "ann", PASSWORD)).status for _ in range(4)]
        assert answers == [200, 200, 200, 429]


async def test_guesses_spread_over_many_names_are_bounded_per_address(tmp_path):
    """The address's own bucket: trying other names (fresh or not) buys no attempts."""
    limits = Limits(sign_in=Rate(per_second=0.001, burst=3),
                    sign_in_per_address=Rate(per_second=0.001, burst=5))
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as demo:
        for name in ("ann", "bob"):
            await demo.app.ctx.store.write(users.register, name_key(name), name, hash_password(PASSWORD))
        answers = [(await attempt(demo, name, "a wrong guess")).status
                   for name in ("ann", "ann", "bob", "bob", "new1", "bob")]
        assert answers == [401, 401, 401, 401, 200, 429]


async def test_sign_ins_hash_on_their_own_threads_so_pages_never_wait_for_scrypt(demo):
    """Every hashing thread held (a gate): a sign-in waits, ``GET /`` is served meanwhile."""
    hasher, gate = demo.app.ctx.hasher, threading.Event()
    held = [hasher.executor.submit(gate.wait, TIMEOUT) for _ in range(hasher.threads)]
    try:
        signing_in = asyncio.ensure_future(attempt(demo, "ann", PASSWORD))
        assert (await http(demo, "GET", "/")).status == 200
        assert (await http(demo, "GET", "/static/app.js")).status == 200
        # Proving an absence: a sign-in hashed elsewhere would be done in about 0.1 s.
        done, _ = await asyncio.wait({signing_in}, timeout=HELD_S)
        assert not done, "the sign-in hashed elsewhere than on the hashing threads"
    finally:
        gate.set()
    assert (await signing_in).status == 200
    assert all(future.result() for future in held)


# -- admins -------------------------------------------------------------------------------

async def test_an_admin_name_is_taken_at_start_with_the_configured_password(demo):
    claim = await attempt(demo, "ROOT", "i am root now")
    assert claim.status == 401
    admin = await attempt(demo, "root", PASSWORD)
    assert admin.data == {"name": "root", "admin": True, "registered": False, "map_lists": ANY}


@pytest.mark.parametrize("env, message", [
    ({}, "--admin needs BUBBLEMAP_ADMIN_PASSWORD"),
    ({"BUBBLEMAP_ADMIN_PASSWORD": "short"}, "BUBBLEMAP_ADMIN_PASSWORD must be 8 to 256 characters"),
])
def test_admin_without_a_good_password_exits_2_with_one_line(tmp_path, env, message):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BUBBLEMAP_")}
    argv = [sys.executable, "-m", "demo_app", "--admin", "ada", "--db", str(tmp_path / "x.db")]
    done = subprocess.run(argv, env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


# -- signing out --------------------------------------------------------------------------

async def test_after_sign_out_a_copy_of_the_cookie_works_nowhere(demo, ann):
    created = await ann.create_map()
    copy = ann.cookie
    assert (await ann.call("DELETE", "/api/1/session")).status == 204
    assert (await http(demo, "GET", "/api/1/maps", cookie=copy)).status == 401
    assert (await http(demo, "GET", "/api/1/session", cookie=copy)).data["name"] is None
    assert await close_code(demo, created["id"], copy) == 4401


async def test_sign_out_ends_that_sessions_sockets_and_its_clients_stop(demo):
    """Closed at once (wsns.disconnect: 4001), the client asks for a fresh token, gets
    none, and stops: no reconnect loop; the cookie cannot open a socket either."""
    ann = await sign_in(demo, "ann")
    created = await ann.create_map()
    async with map_client(ann, created["id"]) as raw, \
            remote.connect(map_url(demo, created["id"]), token=ann.ws_token) as page:
        assert (await ann.call("DELETE", "/api/1/session")).status == 204
        assert await wait_closed(raw.ws) == 4001
        assert (await asyncio.wait_for(page.wait_closed(), TIMEOUT)).reason == "token_failed"
    assert await close_code(demo, created["id"], ann.cookie) == 4401


async def test_sign_out_reconnects_the_accounts_other_sessions_at_once(demo):
    laptop, phone = await sign_in(demo, "ann"), await sign_in(demo, "ann")
    created = await laptop.create_map()
    async with remote.connect(map_url(demo, created["id"]), token=phone.ws_token) as kept:
        reopened = asyncio.Event()
        kept.on("state", lambda state, _: reopened.set() if state is remote.State.OPEN else None)
        assert (await laptop.call("DELETE", "/api/1/session")).status == 204
        await asyncio.wait_for(reopened.wait(), TIMEOUT)
        bubble = {"x": 1, "y": 1, "text": "still here", "color": "#000000"}
        assert (await kept.request("bubble-create", bubble))["text"] == "still here"


async def test_registering_many_names_from_one_address_is_429(tmp_path):
    limits = Limits(registrations=Rate(per_second=0.001, burst=2))
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as demo:
        statuses = [(await attempt(demo, name, PASSWORD)).status for name in ("a1", "a2", "a3")]
        assert statuses == [200, 200, 429]
        assert (await attempt(demo, "a1", PASSWORD)).status == 200  # signing in is not registering
