"""A small auction: one namespace per auction, bids as requests, every bid broadcast.

Run it with Sanic's app factory: ``sanic examples.auction:create_app --factory``.
``examples/test_auction.py`` tests its handlers with ``sanic_wsns.testing`` (docs/testing.md).
"""

from typing import Annotated

import msgspec
from sanic import Sanic

from sanic_wsns import Conflict, Forbidden, History, NotFound, Unauthorized, WsNamespaces

AUCTIONS = {1: {"item": "a bicycle", "members_only": False}, 2: {"item": "a painting", "members_only": True}}
MEMBERS = {"ann"}


class Bid(msgspec.Struct):
    amount: Annotated[int, msgspec.Meta(gt=0)]   # a bid of 0 or less is invalid_data


def create_app(name: str = "auction", broker: str = "memory://") -> Sanic:
    app = Sanic(name)
    wsns = WsNamespaces(app, broker=broker)
    auctions = wsns.pattern("/ws/auctions/<auction_id:int>", history=History(size=100))
    highest: dict[int, int] = {}   # a real app keeps this in its database

    @auctions.authorize
    async def can_bid(request, auction_id):
        user = request.cookies.get("user")
        if not user:
            raise Unauthorized("sign in first")                  # 4401
        if auction_id not in AUCTIONS:
            raise NotFound("no such auction")                    # 4404
        if AUCTIONS[auction_id]["members_only"] and user not in MEMBERS:
            raise Forbidden("members only")                      # 4403
        return user

    @auctions.on("bid")
    async def bid(ns, client, data: Bid):
        auction_id = ns.params["auction_id"]
        if data.amount <= highest.get(auction_id, 0):
            raise Conflict("bid too low", details={"highest": highest[auction_id]})
        highest[auction_id] = data.amount
        await ns.broadcast("bid-placed", {"by": client.identity, "amount": data.amount})
        return {"highest": data.amount}

    return app
