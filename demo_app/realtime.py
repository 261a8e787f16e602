"""The WebSocket side of bubblemap: one namespace per map, three requests; and the map
lists' namespaces, which only listen.

Each request is persisted together with the frame announcing it, then that frame is
broadcast to every client of the map (on every instance) through the outbox, then the
request is answered with the stored bubble: a client never sees a change that the
database does not have, and a stored change is announced even if this instance dies.
The map lists get the cards the store scheduled in the same transactions (``paths``
says which list sees which map). The presence of a map shows what each person is doing
(``people.py``): ``editing`` changes it for everyone on the map, and leaving clears it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sanic import Request

from sanic_wsns import (
    BrokerUnavailable,
    Client,
    CloseCode,
    Forbidden,
    Identity,
    Namespace,
    NotFound,
    Pattern,
    Unauthorized,
    WsNamespaces,
)
from sanic_wsns.outbox import Relay

from . import access, people
from .models import Bubble, BubbleCreate, BubbleDelete, BubbleDeleted, BubbleUpdate, Editing
from .paths import LIST_PATTERN, MAP_PATTERN, PUBLIC, is_personal, personal
from .sessions import Sessions, SignedIn
from .store import Store, bubbles
from .ws_tokens import WsTokens

logger = logging.getLogger(__name__)


async def _granted(app_ctx: Any, request: Request) -> tuple[SignedIn, float]:
    """The live session a socket (or its refresh) shows, and when its grant ends.

    The page shows a token (``ws_tokens.py``): its session must still be live, and the
    grant ends with the token. A client without one (a script, a test) may show the
    session cookie instead; its grant is as long as a token's, so every socket's grant
    ends within ``WsTokens.lifetime`` unless a refresh moves it, and a refresh always
    takes a token.
    """
    sessions: Sessions = app_ctx.sessions
    tokens: WsTokens = app_ctx.ws_tokens
    now = time.time()
    token: str | None = request.ctx.wsns_token
    if token is None:
        session = await sessions.current(request)
        expires_at = now + tokens.lifetime
    else:
        grant = tokens.verify(token, now)
        session = None if grant is None else await sessions.of(grant.session_id)
        expires_at = 0.0 if grant is None else grant.expires_at
    if session is None:
        raise Unauthorized("sign in first")
    return session, expires_at


async def end_grants(wsns: WsNamespaces, account_key: str, reason: str) -> None:
    """Close every socket of the account on every instance with 4001: each client asks its
    page for a fresh token and reconnects; a page whose session was ended gets none (401)
    and stops. One broker message, nothing polled. Without the broker the other instances'
    sockets end with their grants instead (``WsTokens.lifetime``), so it is logged, not
    raised: the change the caller made stands."""
    try:
        await wsns.disconnect(user=account_key, code=CloseCode.EXPIRED, reason=reason)
    except BrokerUnavailable:
        logger.warning("%s: sockets on other instances end with their grants (no broker)", reason)


def _identity(session: SignedIn, expires_at: float) -> Identity:
    # The session stays on the server (client.identity); others see what people.py shows
    # (name, colour, what one is doing); the per-user connection cap and
    # wsns.disconnect(user=...) count the account, whatever the session.
    return Identity(session, people.public(session.account), user=session.account.key,
                    expires_at=expires_at)


def _account_of(client: Client) -> str:
    session: SignedIn = client.identity
    return session.account.key


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

    @maps.authorize  # and, by default, every refresh: a member removed meanwhile is refused
    async def authorize(request: Request, map_id: int) -> Identity:
        session, expires_at = await _granted(app_ctx, request)
        await access.open_map(store(), map_id, session.account.name)
        return _identity(session, expires_at)

    @maps.on_connect
    async def send_snapshot(ns: Namespace, client: Client) -> None:
        if client.recovered:  # the frames it missed follow its welcome: no re-fetch
            return
        view = await store().read(bubbles.view, ns.params["map_id"])
        if view is None:  # deleted between authorize and now
            raise NotFound("no such map")
        await client.send("snapshot", view)

    @maps.on("bubble-create")
    async def create(ns: Namespace, client: Client, data: BubbleCreate) -> Bubble:
        bubble, frame = await store().write(bubbles.create, store().policy, ns.params["map_id"], data,
                                            _editor(client))
        await outbox().announce(frame)
        return bubble

    @maps.on("bubble-update")
    async def update(ns: Namespace, client: Client, data: BubbleUpdate) -> Bubble:
        bubble, frame = await store().write(bubbles.update, store().policy, ns.params["map_id"], data,
                                            _editor(client))
        await outbox().announce(frame)
        return bubble

    @maps.on("bubble-delete")
    async def delete(ns: Namespace, client: Client, data: BubbleDelete) -> BubbleDeleted:
        deleted, frame = await store().write(bubbles.delete, store().policy, ns.params["map_id"], data.id,
                                             _editor(client))
        await outbox().announce(frame)
        return deleted

    @maps.on("editing")
    async def editing(ns: Namespace, client: Client, data: Editing) -> None:
        """Show everyone on the map which bubble this person selected (or that they
        selected none); a repeat of what is shown sends nothing."""
        if client.public.get("editing") == data.bubble:
            return
        # Every change goes to everyone on the map: at a person's pace, not a script's.
        app_ctx.presence_throttle.check(_account_of(client))
        map_id = ns.params["map_id"]
        if data.bubble is not None and not await store().read(bubbles.exists, map_id, data.bubble):
            raise NotFound(f"no bubble {data.bubble} on this map")
        await client.update_presence(people.editing(client.public, data.bubble))

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
        session, expires_at = await _granted(app_ctx, request)
        if audience in (PUBLIC, personal(session.account.key)):
            return _identity(session, expires_at)
        if is_personal(audience):
            raise Forbidden("this is another account's map list")
        raise NotFound("no such map list")
    return lists
