"""Bounds: a map holds a bounded number of bubbles (and members), sized so that its snapshot
fits a client's send queue; one user's REST calls are rate-limited."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from demo_app.hashing import HASH_THREADS
from demo_app.limits import DEFAULT_LIMITS, Limits, bubbles_fitting, worst_bubble, worst_snapshot
from demo_app.models import BubbleCreate
from demo_app.store import bubbles, maps
from demo_app.throttle import Rate, Throttle, TooManyRequests
from sanic_wsns import Settings
from sanic_wsns.outbox import Timing
from tests.support.demo import close_code, map_client, running_demo, sign_in

BUBBLE = {"x": 1.0, "y": 2.0, "text": "one more", "color": "#00aa00"}


@pytest.fixture
async def small(tmp_path):
    """A demo whose maps hold 3 bubbles and 2 members, and whose users get 5 REST calls."""
    limits = Limits(bubbles_per_map=3, members_per_map=2, rest=Rate(per_second=0.01, burst=5))
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as server:
        yield server


async def fill(server, map_id: int, count: int) -> None:
    """Store ``count`` bubbles directly (not through the rate-limited API)."""
    for _ in range(count):
        store = server.app.ctx.store
        await store.write(bubbles.create, store.policy, map_id, msgspec.convert(BUBBLE, BubbleCreate), "ann")


# -- the bubble cap -----------------------------------------------------------------------

def test_a_full_map_of_worst_case_bubbles_fits_the_default_send_queue():
    queue = Settings().max_send_queue
    cap = bubbles_fitting(queue)
    frame = msgspec.json.encode({"type": "snapshot", "data": worst_snapshot(cap)})
    assert len(frame) < queue
    # Not needlessly small: a worst-case bubble is ~3.2 KB (its text, and since bubbles
    # record their editor, the longest name): 291 fit the default queue.
    assert cap >= 280
    assert len(msgspec.json.encode(worst_bubble())) > 6 * 500


async def test_the_default_cap_is_what_fits_the_extensions_send_queue(demo):
    assert DEFAULT_LIMITS.bubbles_per_map is None
    fitting = bubbles_fitting(demo.app.ctx.wsns.settings.max_send_queue)
    assert demo.app.ctx.store.policy.bubbles_per_map == fitting


async def test_a_full_map_refuses_a_rest_bubble_with_409_map_full(small):
    ann = await sign_in(small, "ann")
    created = await ann.create_map()
    await fill(small, created["id"], 3)
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/bubbles", BUBBLE)
    assert reply.status == 409
    assert reply.data["error"] == "conflict"
    assert reply.data["details"] == {"reason": "map_full", "limit": 3}
    assert len(await ann.bubbles(created["id"])) == 3


async def test_a_full_map_answers_a_ws_create_with_conflict_map_full_and_stays_open(small):
    ann = await sign_in(small, "ann")
    created = await ann.create_map()
    await fill(small, created["id"], 2)
    async with map_client(ann, created["id"]) as client:
        assert (await client.request("bubble-create", BUBBLE))["type"] == "reply"
        error = await client.request("bubble-create", BUBBLE)
        assert error["data"]["code"] == "conflict"
        assert error["data"]["details"] == {"reason": "map_full", "limit": 3}
        deleted = await client.request("bubble-delete", {"id": client.snapshot["bubbles"][0]["id"]})
        assert deleted["type"] == "reply"
        assert (await client.request("bubble-create", BUBBLE))["type"] == "reply"  # room again


async def test_a_map_holds_a_bounded_number_of_members(small):
    ann, bob, cy, di = [await sign_in(small, n) for n in ("ann", "bob", "cy", "di")]
    created = await ann.create_map(private=True)
    store = small.app.ctx.store
    for member in (bob, cy):
        await store.write(maps.add_member, store.policy, created["id"], member.name)
    reply = await ann.call("POST", f"/api/1/maps/{created['id']}/members", {"name": di.name})
    assert reply.status == 409
    assert reply.data["details"] == {"reason": "members_full", "limit": 2}


# -- the REST rate limit ------------------------------------------------------------------

async def test_a_user_over_the_rest_rate_gets_429_with_retry_after_and_others_do_not(small):
    ann, bob = await sign_in(small, "ann"), await sign_in(small, "bob")
    answers = [(await ann.call("GET", "/api/1/maps")).status for _ in range(5)]
    assert answers == [200] * 5
    limited = await ann.call("POST", "/api/1/maps", {"title": "one too many"})
    assert limited.status == 429
    assert limited.data["error"] == "rate_limited"
    assert limited.data["details"]["retry_after"] > 0
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await bob.call("GET", "/api/1/maps")).status == 200
    assert (await bob.call("GET", "/api/1/maps")).data == {"maps": [], "next": None}


async def test_the_rate_limit_follows_the_account_not_the_session(small):
    laptop, phone = await sign_in(small, "ann"), await sign_in(small, "ANN")
    for _ in range(5):
        await laptop.call("GET", "/api/1/maps")
    assert (await phone.call("GET", "/api/1/maps")).status == 429


def test_the_throttle_table_is_bounded_and_forgets_refilled_keys_first():
    now = [0.0]
    throttle = Throttle(Rate(per_second=1, burst=2), "calls", max_keys=3, clock=lambda: now[0])
    for key in ("idle-1", "idle-2"):
        throttle.check(key)
    now[0] = 1.0
    throttle.check("busy")
    throttle.check("busy")
    with pytest.raises(TooManyRequests) as refused:
        throttle.check("busy")
    assert refused.value.retry_after == pytest.approx(1.0)
    now[0] = 2.5  # the idle keys have refilled (a fresh bucket is the same); "busy" has not
    throttle.check("newcomer")
    assert sorted(throttle.keys()) == ["busy", "newcomer"]


def test_a_full_throttle_table_refuses_a_new_key_rather_than_reset_one_still_spending():
    """Flooding fresh keys once evicted the oldest bucket, handing its key a full one."""
    now = [0.0]
    throttle = Throttle(Rate(per_second=1, burst=2), "calls", max_keys=2, clock=lambda: now[0])
    throttle.check("victim")
    throttle.check("victim")
    throttle.check("fresh-1")
    with pytest.raises(TooManyRequests) as refused:
        throttle.check("fresh-2")
    assert refused.value.retry_after == pytest.approx(2.0)
    with pytest.raises(TooManyRequests):
        throttle.check("victim")
    now[0] = 2.0  # both refilled: a new key gets a place
    throttle.check("fresh-2")


async def test_one_user_holds_a_bounded_number_of_websockets_across_sessions(tmp_path):
    """Two sessions of one account share its cap; another user still connects."""
    limits = Limits(connections_per_user=2)
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as server:
        laptop, phone, bob = (await sign_in(server, "ann"), await sign_in(server, "ANN"),
                              await sign_in(server, "bob"))
        map_id = (await laptop.call("POST", "/api/1/maps", {"title": "busy"})).data["id"]
        async with map_client(laptop, map_id), map_client(phone, map_id):
            assert await close_code(server, map_id, laptop.cookie) == 1013
            async with map_client(bob, map_id):
                pass


def test_the_default_per_user_connection_cap_is_fifty():
    assert DEFAULT_LIMITS.connections_per_user == 50


def test_the_bubble_cap_the_security_page_states_is_the_one_the_server_enforces():
    """The page once said 308 while the server enforced 291: the number is read from it."""
    page = (Path(__file__).parents[3] / "docs" / "security.md").read_text(encoding="utf-8")
    cap = bubbles_fitting(Settings().max_send_queue)
    stated = {int(n) for n in re.findall(r'"reason": "map_full", "limit": (\d+)', page)}
    stated |= {int(n) for n in re.findall(r"\| Bubbles per map \| (\d+) ", page)}
    assert stated == {cap}


def test_the_edit_rate_the_security_page_states_is_the_default():
    page = (Path(__file__).parents[3] / "docs" / "security.md").read_text(encoding="utf-8")
    rate = DEFAULT_LIMITS.edits
    stated = f"| {rate.per_second:g} a second, bursts of {rate.burst}, across all the user's connections"
    assert stated in page


def per_minute(rate: Rate) -> str:
    return f"{rate.per_second * 60:g} a minute, bursts of {rate.burst}"


#: The demo's relay runs with the library's default timing.
OUT = Timing()


def test_the_security_page_states_the_sign_in_outbox_and_hashing_bounds_in_force():
    page = (Path(__file__).parents[3] / "docs" / "security.md").read_text(encoding="utf-8")
    limits = DEFAULT_LIMITS
    by_name = limits.sign_in_per_name
    for row in [
        f"| Sign-in attempts per client address (failed or not) | {per_minute(limits.sign_in_per_address)} ",
        f"| Sign-in attempts per name (failed or not, any address) | {by_name.per_second:g} a second, "
        f"bursts of {by_name.burst} ",
        f"| Failed sign-ins per name and client address | {per_minute(limits.sign_in)} ",
        f"| Keys per throttle table | {Throttle(limits.rest, 'x').max_keys:,};",
        f"| Password hashes at once | {HASH_THREADS}, on their own threads |",
        f"| Published outbox rows | deleted {OUT.keep:g} s after publication, every {OUT.tick:g} s pass, "
        f"{OUT.prune_batch} per transaction, up to {OUT.prune_batch * OUT.prune_batches:,} per pass |",
    ]:
        assert row in page
