"""How many maps one account may make, how fast, and how the map list is read: a page at a
time, newest first (issue 21 item 8: 17k maps in 83 s from 10 accounts, then every
``GET /api/1/maps`` was 4.7 MB)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from demo_app.limits import DEFAULT_LIMITS, Limits
from demo_app.models import MAPS_PAGE, MAX_MAPS_PAGE
from demo_app.store import maps
from demo_app.throttle import Rate
from tests.support.demo import running_demo, sign_in

UNHURRIED = Rate(per_second=100, burst=1000)


@pytest.fixture
async def roomy(tmp_path):
    """A demo where making maps is neither rate-limited nor capped (the pages are under test)."""
    limits = Limits(map_creations=UNHURRIED, maps_per_user=10 * MAX_MAPS_PAGE)
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as server:
        yield server


async def make_maps(server, owner: str, count: int, private: bool = False) -> list[int]:
    """``count`` maps of ``owner`` stored directly: their ids, oldest first."""
    store = server.app.ctx.store
    return [(await store.write(maps.create, store.policy, f"map {n}", owner, private)).id
            for n in range(count)]


async def test_one_account_owns_a_bounded_number_of_maps(tmp_path):
    limits = Limits(maps_per_user=2, map_creations=UNHURRIED)
    async with running_demo(tmp_path / "db.sqlite", limits=limits) as server:
        ann, bob = await sign_in(server, "ann"), await sign_in(server, "bob")
        first = await ann.create_map("one")
        await ann.create_map("two")
        refused = await ann.call("POST", "/api/1/maps", {"title": "three"})
        assert refused.status == 409
        assert refused.data["details"] == {"reason": "too_many_maps", "limit": 2}
        assert (await bob.call("POST", "/api/1/maps", {"title": "bob's"})).status == 201
        assert (await ann.call("DELETE", f"/api/1/maps/{first['id']}")).status == 204
        assert (await ann.call("POST", "/api/1/maps", {"title": "three"})).status == 201


async def test_making_maps_is_rate_limited_per_account_across_instances(tmp_path):
    db = tmp_path / "shared.sqlite"
    limits = Limits(map_creations=Rate(per_second=0.001, burst=2))
    async with AsyncExitStack() as stack:
        first, second = [await stack.enter_async_context(running_demo(db, limits=limits)) for _ in range(2)]
        ann = await sign_in(first, "ann")
        await ann.create_map("here")
        await ann.on(second).create_map("there")
        refused = await ann.call("POST", "/api/1/maps", {"title": "one more"})
        assert refused.status == 429
        assert refused.data["error"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
        assert (await (await sign_in(first, "bob")).call("POST", "/api/1/maps", {"title": "b"})).status == 201


async def test_the_map_list_comes_a_page_at_a_time_newest_first_to_its_end(roomy):
    ann = await sign_in(roomy, "ann")
    ids = await make_maps(roomy, "ann", 5)
    await make_maps(roomy, "bob", 2, private=True)  # never listed for ann
    seen, path, pages = [], "/api/1/maps?limit=2", 0
    while path is not None:
        page = (await ann.call("GET", path)).data
        assert len(page["maps"]) <= 2
        seen += [card["id"] for card in page["maps"]]
        path, pages = page["next"], pages + 1
    assert seen == ids[::-1]
    assert pages == 3


async def test_a_page_holds_a_bounded_number_of_maps_however_many_there_are(roomy):
    ann = await sign_in(roomy, "ann")
    ids = await make_maps(roomy, "ann", MAX_MAPS_PAGE + 5)
    default = (await ann.call("GET", "/api/1/maps")).data
    assert [card["id"] for card in default["maps"]] == ids[::-1][:MAPS_PAGE]
    assert default["next"] == f"/api/1/maps?limit={MAPS_PAGE}&before={ids[-MAPS_PAGE]}"
    largest = (await ann.call("GET", f"/api/1/maps?limit={MAX_MAPS_PAGE}")).data
    assert len(largest["maps"]) == MAX_MAPS_PAGE


@pytest.mark.parametrize("query", [f"limit={MAX_MAPS_PAGE + 1}", "limit=0", "limit=x", "before=0",
                                   "before=abc", f"before={2**63}", "colour=red"])
async def test_a_bad_page_query_is_400_invalid_data(roomy, query):
    reply = await (await sign_in(roomy, "ann")).call("GET", f"/api/1/maps?{query}")
    assert reply.status == 400
    assert reply.data["error"] == "invalid_data"


def test_the_security_page_states_the_map_bounds_in_force():
    page = (Path(__file__).parents[3] / "docs" / "security.md").read_text(encoding="utf-8")
    rate = DEFAULT_LIMITS.map_creations
    assert f"| Maps one user owns | {DEFAULT_LIMITS.maps_per_user} |" in page
    assert f"| Maps one user creates | {rate.per_second * 60:g} a minute, bursts of {rate.burst}," in page
    assert f"| Maps per `GET /api/1/maps` page | {MAPS_PAGE}, or `?limit=` up to {MAX_MAPS_PAGE};" in page
