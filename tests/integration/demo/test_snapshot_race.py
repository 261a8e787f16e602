"""The snapshot race: a change committed while a client's snapshot is read reaches that
client, even though the snapshot it then gets is older.

The interleaving is forced: the store's ``read`` is wrapped so that a map's ``view`` holds
the snapshot it read until the test lets it go, and meanwhile another client updates a bubble. The
client is admitted (and subscribed) before its snapshot is read, so the update's frame
arrives first; a page merges by version (``static/bubbles.js``: ``BubbleState.replace``
keeps newer versions, and ``connection.js`` replays the frames received since ``welcome``),
so it ends at the newer version.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import connect

from demo_app.store import bubbles
from tests.support.demo import TIMEOUT, map_client, map_url, recv_type
from tests.support.wsclient import recv_json

BUBBLE = {"x": 1.0, "y": 2.0, "text": "v1", "color": "#112233"}


async def test_an_update_committed_while_the_snapshot_is_read_reaches_the_client_before_it(
        demo, ann, bob, monkeypatch):
    created = await ann.create_map()
    store = demo.app.ctx.store
    read = store.read
    async with map_client(ann, created["id"]) as writer:
        bubble = (await writer.request("bubble-create", BUBBLE))["data"]

        snapshot_read = asyncio.Event()
        send_snapshot = asyncio.Event()

        async def view_then_wait(fn: Any, *args: Any) -> Any:
            found = await read(fn, *args)
            if fn is bubbles.view:
                snapshot_read.set()
                await asyncio.wait_for(send_snapshot.wait(), TIMEOUT)
            return found

        monkeypatch.setattr(store, "read", view_then_wait)
        async with connect(map_url(demo, created["id"]), additional_headers={"Cookie": bob.cookie},
                           open_timeout=TIMEOUT) as reader:
            assert (await recv_json(reader))["type"] == "welcome"
            await asyncio.wait_for(snapshot_read.wait(), TIMEOUT)
            monkeypatch.setattr(store, "read", read)

            update = {"id": bubble["id"], "version": 1, "text": "v2"}
            updated = (await writer.request("bubble-update", update))["data"]
            frame = await recv_type(reader, "bubble-updated")  # presence frames may come too
            send_snapshot.set()
            snapshot = await recv_type(reader, "snapshot")

    assert frame["data"] == updated
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["bubbles"] == [bubble], "the snapshot was read before the update"
    assert updated["version"] == 2
