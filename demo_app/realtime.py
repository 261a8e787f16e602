"""The WebSocket side of bubblemap: one namespace per map, three requests; and the map
lists' namespaces, which only listen.

Each request is persisted together with the frame announcing it, then that frame is
broadcast to every client of the map (on every instance) through the outbox, then the
request is answered with the stored bubble: a client never sees a change that the
database does not have, and a stored change is announced even if this instance dies.
The map lists get the cards the store scheduled in the same transactions (``paths``
says which list sees which map).
"""

from __future__ import annotations

from typing import Any

from sanic import Request

from sanic_wsns import Client, Forbidden, Identity, Namespace, NotFound, Pattern, Unauthorized, WsNamespaces
from sanic_wsns.outbox import Relay

from . import access
from .models import Bubble, BubbleCreate, BubbleDelete, BubbleDeleted, BubbleUpdate
from .paths import LIST_PATTERN, MAP_PATTERN, PUBLIC, is_personal, personal
from .sessions import Sessions, SignedIn
from .store import Store


async def _signed_in(app_ctx: Any, request: Request) -> SignedIn:
    sessions: Sessions = app_ctx.sessions
    session = await sessions.current(request)
    if session is None:
        raise Unauthorized("sign in first")
    return session


def _identity(session: SignedIn) -> Identity:
    # The session stays on the server (client.identity); others see only the name; the
    # per-user connection cap counts the account, whatever the session.
    return Identity(session, {"name": session.account.name}, user=session.account.key)


def track_sessions(pattern: Pattern, app_ctx: Any) -> None:
    """Keep every client of ``pattern`` in ``app_ctx.session_clients`` while connected, so
    that signing out can close it."""

    @pattern.on_connect
    async def track(ns: Namespace, client: Client) -> None:
        app_ctx.session_clients.add(client)

    @pattern.on_disconnect
    async def untrack(ns: Namespace, client: Client) -> None:
        app_ctx.session_clients.discard(client)


def _editor(client: Client) -> str:
    """The display name a change by ``client`` is recorded under (never its session)."""
    session: SignedIn = client.identity
    return session.account.name


def declare_maps(wsns: WsNamespaces, app_ctx: Any) -> Pattern:
    """Declare the map pattern; ``app_ctx.store``, ``app_ctx.outbox`` and
    ``app_ctx.sessions`` are read per call because they only exist once the server has
    started."""
    # History: a page that lost its connection catches up from the missed frames instead of
    # re-fetching the map; presence: the page shows who else is on the map.
    maps = wsns.pattern(MAP_PATTERN, history=True, presence=True)

    def store() -> Store:
        return app_ctx.store

    def outbox() -> Relay:
        return app_ctx.outbox

    @maps.authorize
    async def authorize(request: Request, map_id: int) -> Identity:
        session = await _signed_in(app_ctx, request)
        await access.open_map(store(), map_id, session.account.name)
        return _identity(session)

    track_sessions(maps, app_ctx)

    @maps.on_connect
    async def send_snapshot(ns: Namespace, client: Client) -> None:
        if client.recovered:  # the frames it missed follow its welcome: no re-fetch
            return
        view = await store().view(ns.params["map_id"])
        if view is None:  # deleted between authorize and now
            raise NotFound("no such map")
        await client.send("snapshot", view)

    @maps.on("bubble-create")
    async def create(ns: Namespace, client: Client, data: BubbleCreate) -> Bubble:
        bubble, frame = await store().create_bubble(ns.params["map_id"], data, by=_editor(client))
        await outbox().announce(frame)
        return bubble

    @maps.on("bubble-update")
    async def update(ns: Namespace, client: Client, data: BubbleUpdate) -> Bubble:
        bubble, frame = await store().update_bubble(ns.params["map_id"], data, by=_editor(client))
        await outbox().announce(frame)
        return bubble

    @maps.on("bubble-delete")
    async def delete(ns: Namespace, client: Client, data: BubbleDelete) -> BubbleDeleted:
        deleted, frame = await store().delete_bubble(ns.params["map_id"], data.id, by=_editor(client))
        await outbox().announce(frame)
        return deleted

    return maps


def declare_map_lists(wsns: WsNamespaces, app_ctx: Any) -> Pattern:
    """Declare the map lists' pattern: ``public`` for every signed-in user, a personal list
    for its own account only (another's: ``Forbidden``; no such list: ``NotFound``).
    Clients only listen: ``map-card``
    (a map's card, new or changed) and ``map-removed``. No snapshot: a page reads
    ``GET /api/1/maps`` after its welcome and keeps, per map, the card with the highest
    ``revision``. History lets a page that lost its connection catch up instead."""
    lists = wsns.pattern(LIST_PATTERN, history=True)

    @lists.authorize
    async def authorize(request: Request, audience: str) -> Identity:
        session = await _signed_in(app_ctx, request)
        if audience in (PUBLIC, personal(session.account.key)):
            return _identity(session)
        if is_personal(audience):
            raise Forbidden("this is another account's map list")
        raise NotFound("no such map list")

    track_sessions(lists, app_ctx)
    return lists
