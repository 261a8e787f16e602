"""bubblemap's REST API (``/api/1/...``): session, maps, members, bubbles.

Errors are the same exceptions the WebSocket side raises (``sanic_wsns`` errors); the
app's error handler turns them into ``{"error": code, "message"}`` with an HTTP status.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from sanic_wsns import InvalidData, NotFound, Unauthorized

from . import access
from .models import BubbleCreate, NewMap, NewMember, SignIn
from .realtime import map_path

T = TypeVar("T")

_encode = msgspec.json.Encoder().encode


def respond(data: Any, status: int = 200) -> HTTPResponse:
    return HTTPResponse(_encode(data), status=status, content_type="application/json")


def body(request: Request, type: type[T]) -> T:
    """The request's JSON body decoded into ``type``; raises ``InvalidData``."""
    try:
        return msgspec.json.decode(request.body or b"", type=type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidData(str(exc)) from None


def user(request: Request) -> str:
    """The signed-in name; raises ``Unauthorized``."""
    name = request.app.ctx.sessions.current(request)
    if name is None:
        raise Unauthorized("sign in first")
    return name


def _me(request: Request, name: str | None) -> dict[str, Any]:
    return {"name": name, "admin": name is not None and name in request.app.ctx.admins}


async def get_session(request: Request) -> HTTPResponse:
    return respond(_me(request, request.app.ctx.sessions.current(request)))


async def sign_in(request: Request) -> HTTPResponse:
    name = body(request, SignIn).name
    response = respond(_me(request, name))
    request.app.ctx.sessions.sign_in(request, response, name)
    return response


async def sign_out(request: Request) -> HTTPResponse:
    response = HTTPResponse(status=204)
    request.app.ctx.sessions.sign_out(request, response)
    return response


async def list_maps(request: Request) -> HTTPResponse:
    return respond(await request.app.ctx.store.maps_for(user(request)))


async def create_map(request: Request) -> HTTPResponse:
    name = user(request)
    data = body(request, NewMap)
    return respond(await request.app.ctx.store.create_map(data.title.strip(), name, data.private),
                   status=201)


async def get_map(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.open_map(store, map_id, user(request))
    view = await store.view(map_id)
    if view is None:
        raise NotFound("no such map")
    return respond(view)


async def delete_map(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.own_map(store, map_id, user(request))
    await store.delete_map(map_id)
    # Through the broker: the map's clients on every instance are closed, not only here.
    await request.app.ctx.wsns.remove_namespace(map_path(map_id), code=4410, reason="map deleted")
    return HTTPResponse(status=204)


async def add_member(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.own_map(store, map_id, user(request))
    return respond(await store.add_member(map_id, body(request, NewMember).name))


async def create_bubble(request: Request, map_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    await access.open_map(store, map_id, user(request))
    bubble = await store.create_bubble(map_id, body(request, BubbleCreate))
    # Published even when no client of this map is connected here: others may have some.
    await request.app.ctx.maps.broadcast({"map_id": map_id}, "bubble-created", bubble)
    return respond(bubble, status=201)


def add_routes(app: Sanic) -> None:
    routes = [
        (get_session, "/api/1/session", "GET"),
        (sign_in, "/api/1/session", "POST"),
        (sign_out, "/api/1/session", "DELETE"),
        (list_maps, "/api/1/maps", "GET"),
        (create_map, "/api/1/maps", "POST"),
        (get_map, "/api/1/maps/<map_id:int>", "GET"),
        (delete_map, "/api/1/maps/<map_id:int>", "DELETE"),
        (add_member, "/api/1/maps/<map_id:int>/members", "POST"),
        (create_bubble, "/api/1/maps/<map_id:int>/bubbles", "POST"),
    ]
    for handler, uri, method in routes:
        app.add_route(handler, uri, methods=[method], name=f"api_{handler.__name__}")
