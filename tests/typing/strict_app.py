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
    remote,
    testing,
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
    ns.broadcast("typing", {"by": client.public})  # queued at the call: no await needed
    pos: Position | None = await ns.broadcast("edited", {"by": client.public, "text": data.text},
                                              exclude=[client])
    return pos


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


async def a_service(url: str, cookie: str) -> int:
    """The Python client (``sanic_wsns.remote``) as a typed service uses it."""
    async def fresh_token() -> str:
        return "t"

    def show(data: object, frame: object) -> None:
        print(data, frame)

    async with remote.connect(url, headers={"Cookie": cookie}, token=fresh_token,
                              heartbeat=remote.Heartbeat(interval=5.0)) as ns:
        stop: Callable[[], None] = ns.on("edited", show)
        try:
            reply: object = await ns.request("edit", {"text": "hi"}, timeout=2.0)
        except remote.RequestError as error:
            print(error.code, error.details)
            reply = None
        await ns.send("edit", {"text": reply})
        async for frame in ns.frames("edited"):
            print(frame["data"], ns.position, dict(ns.presence), ns.state is remote.State.OPEN)
            break
        stop()
    ending: remote.Ending = await ns.wait_closed()
    return ending.code


async def a_test() -> None:
    """``sanic_wsns.testing`` as a typed test uses it."""
    async with testing.serve(app) as server:
        try:
            await server.connect("/maps/1", cookies={"user": "ann"}, origin=server.http)
        except remote.Denied as denied:
            print(denied.close_code, denied.reason, server.url("/maps/1"))
