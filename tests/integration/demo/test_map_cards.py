"""The map list's cards: bubble count, members and last change time, read in one query.

The last change time is kept by triggers, so these tests drive the store's ordinary write
paths and check that each of them moved it, with the clock of the database.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demo_app.models import BubbleCreate, BubbleUpdate
from demo_app.store import Store, bubbles, maps

BUBBLE = BubbleCreate(x=10.0, y=20.0, text="hi", color="#3366cc")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = Store(tmp_path / "cards.sqlite")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def _card(store: Store, map_id: int, name: str = "ann"):
    [card] = [card for card in await store.read(maps.visible_to, name) if card.id == map_id]
    return card


async def _forget_activity(store: Store, map_id: int) -> None:
    """Make the map look untouched since 1970, so the next write must move the time.
    (Straight on the connection: nothing else uses the store at that moment.)"""
    store.db.execute("UPDATE map_activity SET changed_at = 0 WHERE map_id = ?", (map_id,))


async def test_a_new_map_is_listed_with_no_bubbles_and_the_time_it_was_made(store):
    before = time.time()
    made = await store.write(maps.create, store.policy, "Fresh", "ann", False)
    card = await _card(store, made.id)
    assert (card.bubble_count, card.members) == (0, [])
    assert before - 1 <= card.changed_at <= time.time() + 1


async def test_the_card_counts_bubbles_and_lists_members_in_name_order(store):
    made = await store.write(maps.create, store.policy, "Team", "ann", True)
    for name in ("zoe", "bob"):
        await store.write(maps.add_member, store.policy, made.id, name)
    for _ in range(3):
        await store.write(bubbles.create, store.policy, made.id, BUBBLE, "ann")
    card = await _card(store, made.id, "bob")
    assert (card.bubble_count, card.members) == (3, ["bob", "zoe"])


@pytest.mark.parametrize("write", ["create", "update", "delete"])
async def test_every_bubble_write_moves_the_last_change_time(store, write):
    made = await store.write(maps.create, store.policy, "Busy", "ann", False)
    bubble, _ = await store.write(bubbles.create, store.policy, made.id, BUBBLE, "ann")
    await _forget_activity(store, made.id)
    if write == "create":
        await store.write(bubbles.create, store.policy, made.id, BUBBLE, "ann")
    elif write == "update":
        await store.write(bubbles.update, store.policy, made.id,
                          BubbleUpdate(id=bubble.id, version=1, text="moved on"), "ann")
    else:
        await store.write(bubbles.delete, store.policy, made.id, bubble.id, "ann")
    assert (await _card(store, made.id)).changed_at > 0


async def test_a_deleted_map_leaves_no_activity_row_behind(store):
    made = await store.write(maps.create, store.policy, "Gone", "ann", False)
    await store.write(bubbles.create, store.policy, made.id, BUBBLE, "ann")
    await store.write(maps.delete, made.id)
    assert store.db.execute("SELECT count(*) FROM map_activity").fetchone()[0] == 0
