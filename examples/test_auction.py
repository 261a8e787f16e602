"""Tests of examples/auction.py's handlers, with sanic_wsns.testing (run: pytest examples/)."""

import asyncio

import pytest

from examples.auction import create_app
from sanic_wsns import remote, testing


@pytest.fixture
async def server():
    async with testing.serve(create_app()) as server:
        yield server


async def next_frame(frames, timeout=5):
    async with asyncio.timeout(timeout):
        return await anext(frames)


@pytest.mark.parametrize(("path", "cookies", "code", "close_code"), [
    ("/ws/auctions/1", {}, "unauthenticated", 4401),
    ("/ws/auctions/2", {"user": "bob"}, "forbidden", 4403),
    ("/ws/auctions/9", {"user": "bob"}, "not_found", 4404),
])
async def test_refusals_are_denied_with_their_close_code(server, path, cookies, code, close_code):
    with pytest.raises(remote.Denied) as denied:
        await server.connect(path, cookies=cookies)
    assert (denied.value.code, denied.value.close_code) == (code, close_code)


async def test_a_bid_is_answered_with_the_new_highest_bid(server):
    ann = await server.connect("/ws/auctions/1", cookies={"user": "ann"})
    assert await ann.request("bid", {"amount": 10}) == {"highest": 10}


async def test_an_invalid_or_too_low_bid_is_an_error_with_its_code(server):
    ann = await server.connect("/ws/auctions/1", cookies={"user": "ann"})
    with pytest.raises(remote.RequestError) as invalid:
        await ann.request("bid", {"amount": -5})
    assert invalid.value.code == "invalid_data"
    await ann.request("bid", {"amount": 10})
    with pytest.raises(remote.RequestError) as low:
        await ann.request("bid", {"amount": 7})
    assert (low.value.code, low.value.details) == ("conflict", {"highest": 10})


async def test_a_bid_reaches_every_bidder(server):
    ann = await server.connect("/ws/auctions/1", cookies={"user": "ann"})
    bob = await server.connect("/ws/auctions/1", cookies={"user": "bob"})
    ann_frames, bob_frames = ann.frames("bid-placed"), bob.frames("bid-placed")
    await bob.request("bid", {"amount": 20})
    placed = {"by": "bob", "amount": 20}
    assert (await next_frame(ann_frames))["data"] == (await next_frame(bob_frames))["data"] == placed


async def test_bids_missed_during_a_dropped_connection_arrive_after_it_reconnects(server):
    ann = await server.connect("/ws/auctions/1", cookies={"user": "ann"})
    bob = await server.connect("/ws/auctions/1", cookies={"user": "bob"})
    frames = ann.frames("bid-placed")
    ann.drop(reconnect=False)                  # the network goes away; ann stays away
    for amount in (30, 40):
        await bob.request("bid", {"amount": amount})
    ann.reconnect_now()                        # back: asks for what it missed (since/epoch)
    assert [(await next_frame(frames))["data"]["amount"] for _ in range(2)] == [30, 40]
    assert ann.welcome["recovered"] is True
