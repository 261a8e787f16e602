"""Sign-out reaches open WebSockets: each instance closes its own clients of dead sessions.

Signing out deletes the session's row in the shared database, nothing else: no broker
channel (the broker carries only namespace messages, DESIGN core idea 3) and no call
between instances. Instead every instance keeps its WebSocket clients by session id
and, every ``interval`` seconds, asks the database in one query which of those sessions
are gone, then closes their clients with 4401. A signed-out session's sockets therefore
close on every instance within about one interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from sanic_wsns import Client, CloseCode

from .sessions import MAX_AGE, SignedIn
from .store import Store

logger = logging.getLogger(__name__)


class SessionClients:
    """This instance's WebSocket clients, by the session they were opened with."""

    def __init__(self) -> None:
        self._by_session: defaultdict[str, set[Client]] = defaultdict(set)

    def add(self, client: Client) -> None:
        self._by_session[_session_of(client)].add(client)

    def discard(self, client: Client) -> None:
        session_id = _session_of(client)
        clients = self._by_session.get(session_id)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._by_session[session_id]

    def session_ids(self) -> list[str]:
        return list(self._by_session)

    def of(self, session_id: str) -> list[Client]:
        return list(self._by_session.get(session_id, ()))


def _session_of(client: Client) -> str:
    identity: SignedIn = client.identity
    return identity.session_id


async def close_signed_out(clients: SessionClients, store: Store) -> int:
    """Close (4401) the clients whose session was signed out or expired; how many."""
    dead = await store.dead_sessions(clients.session_ids(), MAX_AGE)
    doomed = [client for session_id in dead for client in clients.of(session_id)]
    await asyncio.gather(*(c.close(CloseCode.UNAUTHENTICATED, "signed out") for c in doomed))
    return len(doomed)


async def sweep_forever(clients: SessionClients, store: Store, interval: float) -> None:
    """``close_signed_out`` every ``interval`` seconds until cancelled; a failed round is
    logged and the next one tries again."""
    while True:
        await asyncio.sleep(interval)
        try:
            await close_signed_out(clients, store)
        except Exception:
            logger.exception("closing signed-out sessions' WebSockets failed")
