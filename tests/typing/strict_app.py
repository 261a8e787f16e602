"""An app as a user with ``mypy --strict`` writes it, every public call of sanic-wsns used once.

Not a test to run: ``.ci/run`` type-checks it against the *installed* package, as a user's
project sees it (``py.typed``: without the marker mypy says "missing library stubs or
py.typed marker"), so a signature that loses its types or refuses a documented use
fails CI. The decorators hand back the functions they get, with their own types.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from sanic import Request, Sanic
from sanic.response import HTTPResponse, empty

from sanic_wsns import (
    Client,
    CloseCode,
    Forbidden,
    History,
    Identity,
    Namespace,
    Position,
    Unauthorized,
    WsNamespaces,
    WsnsExtension,
)

app = Sanic("strict")
wsns = WsNamespaces(app, broker="memory://", rate_limit=20)
maps = wsns.pattern("/maps/<map_id:int>", history=History(size=50, ttl=60.0), presence=True)


class Edit(msgspec.Struct):
    text: str


@maps.authorize
async def can_open(request: Request, map_id: int) -> Identity:
    user = request.cookies.get("user")
    if user is None:
        raise Unauthorized("sign in first")
    if map_id < 0:
        raise Forbidden("not yours")
    return Identity(user, {"name": user})


@maps.on_connect
async def hello(ns: Namespace, client: Client) -> None:
    if not client.recovered:
        await client.send("snapshot", {"map": ns.params["map_id"], "members": ns.members()})


@maps.on_disconnect
def bye(ns: Namespace, client: Client) -> None:
    print(client.id, "left", ns.path, len(ns))


@maps.on_empty
def gone(ns: Namespace) -> None:
    print(ns.path, "is empty")


@maps.on("edit")
async def edit(ns: Namespace, client: Client, data: Edit) -> Position | None:
    return await ns.broadcast("edited", {"by": client.public, "text": data.text}, exclude=[client])


@wsns.authorize_stats
def admins_only(request: Request) -> bool:
    return request.headers.get("x-admin") == "yes"


@app.delete("/maps/<map_id:int>")
async def delete_map(request: Request, map_id: int) -> HTTPResponse:
    path = maps.path({"map_id": map_id})
    position: Position = await wsns.position(path)
    who: dict[str, object] = await maps.presence({"map_id": map_id})
    await maps.broadcast({"map_id": map_id}, "deleting", {"after": position, "members": len(who)})
    await wsns.remove_namespace(path, code=CloseCode.REMOVED, reason="map deleted")
    return empty()


# The decorators hand a function back with its own type, so this is an error (the ignore is
# used); were the type lost to ``Callable[..., Any]``, the unused ignore would fail instead.
not_a_handler: Callable[[int], None] = edit  # type: ignore[assignment]
extension = WsnsExtension(WsNamespaces())
