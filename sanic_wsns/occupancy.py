"""Occupancy and online status of one instance's connections, shared through the broker.

Two questions are answered for the whole deployment, without listing anyone:

* **occupancy** of a namespace: its connections and distinct users on every instance, and
  the two transitions ``on_occupied`` (its first client anywhere) and ``on_vacated`` (its
  last one everywhere), each reported to exactly one instance: the store's write that
  adds the first instance (or removes the last) says so, atomically;
* **online** status of a user: whether any instance holds a connection of it, else when it
  was last seen.

Each instance writes only its own share: per namespace its connection count and the users
it gained and lost, per user whether it holds it. Changes are gathered for a short window
and written together (a thousand clients joining at once cost a few writes), the first
change after a quiet spell at once. The broker keeps a set of live instances, each
refreshed every ``ttl / 6`` with what it holds; an instance that died without a goodbye
is dead ``2 ttl / 3`` after its last refresh (``liveness.py``), and the one live instance
that claims it at its next sweep takes its share back, namespace by namespace: the write
that removes its last share reports the vacancy, so ``on_vacated`` still runs once, within
``ttl`` of the kill. Phoenix Tracker and Centrifugo do the same with a heartbeat per node;
no instance ever asks another anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from .errors import BrokerUnavailable
from .liveness import lifetime, period

logger = logging.getLogger("sanic_wsns")

#: ``(added, removed)`` names.
Change = tuple[list[str], list[str]]
#: ``(online, last seen in unix seconds or None)``.
Status = tuple[bool, float | None]
#: ``changed(channel, occupied)``: the namespace became occupied (True) or vacant (False).
Transition = Callable[[str, bool], None]

#: Dead instances one sweep takes back (the next sweep takes the rest).
CLAIM_LIMIT = 100
#: Seconds a stop waits for the refresh loop to end before it writes the goodbye.
CLOSE_WAIT = 2.0


class OccupancyStore(Protocol):
    """The broker's shared counts (Redis: ``broker/redis_presence.py``)."""

    async def occupy(self, channel: str, instance: str, connections: int,
                     gained: list[str], lost: list[str], full: bool = False) -> bool: ...

    async def vacate(self, channel: str, instance: str) -> bool: ...

    async def count(self, channel: str) -> tuple[int, int]: ...

    async def hold(self, deployment: str, instance: str, lifetime: float, namespaces: Change,
                   users: Change) -> bool: ...

    async def claim(self, deployment: str, lease: float, limit: int) -> list[tuple[str, float]]: ...

    async def holdings(self, deployment: str, instance: str) -> tuple[list[str], list[str]]: ...

    async def forget(self, deployment: str, instance: str) -> None: ...

    async def seen(self, deployment: str, user: str, instance: str, holds: bool,
                   at: float | None, keep: float) -> None: ...

    async def online(self, deployment: str, users: list[str], lifetime: float) -> dict[str, Status]: ...


def user_name(user: object) -> str | None:
    """How a user (``Identity.user``, else the identity) is named in the broker: its JSON,
    so ``7`` and ``"7"`` stay apart; ``None`` for connections not counted as anyone's
    (anonymous, or an identity that is neither a string nor an int)."""
    if isinstance(user, bool) or not isinstance(user, (str, int)):
        return None
    return msgspec.json.encode(user).decode()


def status(entries: list[tuple[str, str]], expiries: dict[str, float], now: float,
           lifetime: float) -> Status:
    """``(online, last seen)`` from a user's ``(instance, score)`` entries: online while an
    instance holding it is alive (the sweep's rule: its expiry, last refresh plus
    ``lifetime``, not passed); else seen last when released, or at the last refresh of a
    holder that died (its expiry minus ``lifetime``); ``None``: not seen within retention."""
    seen: float | None = None
    for instance, score in entries:
        if score != "inf":
            at = float(score) / 1000
        elif expiries.get(instance, -1) > now:
            return True, now
        elif expiries.get(instance, -1) > 0:
            at = expiries[instance] - lifetime
        else:
            continue
        seen = at if seen is None else max(seen, at)
    return False, seen


class _Share:
    """This instance's clients of one namespace, and what changed since the last write."""

    __slots__ = ("clients", "users", "gained", "lost", "full")

    def __init__(self) -> None:
        self.clients: dict[str, str | None] = {}  # client id → user name
        self.users: dict[str, int] = {}  # user name → its connections here
        self.gained: set[str] = set()
        self.lost: set[str] = set()
        self.full = False  # write every user, not the changes (a rewrite)


class Occupancy:
    """Every namespace and user this instance holds a connection of."""

    def __init__(self, store: OccupancyStore, deployment: str, instance: str, changed: Transition,
                 *, ttl: float, keep: float, window: float = 0.05):
        self._store = store
        self._deployment = deployment
        self.instance = instance
        self._changed = changed
        self.ttl = ttl
        #: Seconds a refresh keeps this instance alive in the broker (``liveness.py``).
        self.lifetime = lifetime(ttl)
        self.keep = keep
        self.window = window
        self._shares: dict[str, _Share] = {}
        self._dirty: set[str] = set()
        self._held: set[str] = set()  # namespaces whose share of this instance is written
        self._users: dict[str, int] = {}  # user name → connections on this instance
        self._users_on: set[str] = set()
        self._users_off: set[str] = set()
        self._rewrite = False
        self._rehold = False  # the next write adds every namespace held to this instance again
        self._flushing: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_flush = -1e9
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="wsns-occupancy")

    async def close(self) -> None:
        """Graceful stop: what is pending is written, then this instance's whole share goes
        (the namespaces it was the last in are reported vacant)."""
        self._closing = True
        if self._ticker is not None:
            # The flag ends the loop too: a cancel that lands inside a Redis call can be
            # swallowed by the client (seen with redis-py 8.2), and a stop must not hang.
            self._ticker.cancel()
            await asyncio.wait({self._ticker}, timeout=CLOSE_WAIT)
            self._ticker = None
        for share in self._shares.values():
            share.clients.clear()
        self._dirty.update(self._shares)
        self._users_off.update(self._users)
        self._users_on.clear()
        self._users.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._flushing is not None:
            await asyncio.gather(asyncio.shield(self._flushing), return_exceptions=True)
        await self._flush()
        try:
            await self._store.forget(self._deployment, self.instance)
        except Exception as exc:
            logger.warning("occupancy: could not remove this instance: %s", exc)

    # -- connections --------------------------------------------------------------------------

    def join(self, channel: str, client_id: str, user: object) -> None:
        share = self._shares.get(channel)
        if share is None:
            share = self._shares[channel] = _Share()
        name = user_name(user)
        share.clients[client_id] = name
        if name is not None:
            if _count(share.users, name, 1) == 1:
                _toggle(share.gained, share.lost, name)
            if _count(self._users, name, 1) == 1:
                _toggle(self._users_on, self._users_off, name)
        self._touch(channel)

    def leave(self, channel: str, client_id: str) -> None:
        """``client_id`` left (one that never joined: nothing to do)."""
        share = self._shares.get(channel)
        if share is None or client_id not in share.clients:
            return
        name = share.clients.pop(client_id)
        if name is not None:
            if _count(share.users, name, -1) == 0:
                _toggle(share.lost, share.gained, name)
            if _count(self._users, name, -1) == 0:
                _toggle(self._users_off, self._users_on, name)
        self._touch(channel)

    # -- questions ------------------------------------------------------------------------------

    async def count(self, channel: str) -> dict[str, int]:
        try:
            connections, users = await self._store.count(channel)
        except Exception as exc:
            raise _unavailable("occupancy", exc) from exc
        return {"connections": connections, "users": users}

    async def online(self, users: Iterable[str | int]) -> dict[str | int, dict[str, float | bool | None]]:
        names: dict[str, str | int] = {}
        for user in users:
            name = user_name(user)
            if name is None:
                raise TypeError(f"online() takes users as given in Identity.user (str or int), "
                                f"not {type(user).__name__}")
            names[name] = user
        if not names:
            return {}
        try:
            found = await self._store.online(self._deployment, list(names), self.lifetime)
        except Exception as exc:
            raise _unavailable("online status", exc) from exc
        return {user: {"online": found[name][0], "last_seen": found[name][1]}
                for name, user in names.items()}

    # -- writing ------------------------------------------------------------------------------

    def _touch(self, channel: str) -> None:
        self._dirty.add(channel)
        self._schedule()

    def _schedule(self) -> None:
        if self._flushing is not None or self._timer is not None:
            return  # the flush in flight (or due) takes this change too
        loop = asyncio.get_running_loop()
        delay = self._last_flush + self.window - loop.time()
        if delay <= 0:
            self._flush_now()
        else:
            self._timer = loop.call_later(delay, self._flush_now)

    def _flush_now(self) -> None:
        self._timer = None
        self._flushing = asyncio.get_running_loop().create_task(self._flush(), name="wsns-occupancy-flush")

    async def _flush(self) -> None:
        try:
            await self._write()
        except Exception as exc:
            # Written again, whole, at the next refresh (the broker may have lost some).
            self._failed("write", exc)
        finally:
            self._last_flush = asyncio.get_running_loop().time()
            if self._flushing is asyncio.current_task():
                self._flushing = None
            if self._dirty or self._users_on or self._users_off:
                self._schedule()

    async def _write(self) -> None:
        """One flush: what this instance now holds is added first, then the shares and users
        written (the transitions reported), then what it no longer holds is removed; so a
        sweeper that finds this instance dead knows everything it may have written."""
        dirty, self._dirty = self._dirty, set()
        users_on, self._users_on = sorted(self._users_on), set()
        users_off, self._users_off = sorted(self._users_off), set()
        occupied = [ch for ch in dirty if ch in self._shares and self._shares[ch].clients]
        vacant = [ch for ch in dirty if ch not in occupied and ch in self._held]
        added = [ch for ch in occupied if ch not in self._held or self._rehold]
        self._rehold = False
        store, deployment = self._store, self._deployment
        if added or users_on:
            await store.hold(deployment, self.instance, self.lifetime, (added, []), (users_on, []))
            self._held.update(added)
        occupying = [self._occupy(ch, self._shares[ch]) for ch in occupied]
        vacating = [store.vacate(ch, self.instance) for ch in vacant]
        seen = [store.seen(deployment, u, self.instance, True, None, self.keep) for u in users_on]
        seen += [store.seen(deployment, u, self.instance, False, None, self.keep) for u in users_off]
        results = await asyncio.gather(*occupying, *vacating, *seen)
        for channel, became in zip(occupied + vacant, results, strict=False):
            if became:
                self._changed(channel, channel in occupied)
        for channel in vacant:
            self._held.discard(channel)
            share = self._shares.get(channel)
            if share is not None and not share.clients:
                del self._shares[channel]
        if vacant or users_off:
            await store.hold(deployment, self.instance, self.lifetime, ([], vacant), ([], users_off))

    async def _occupy(self, channel: str, share: _Share) -> bool:
        full, share.full = share.full, False
        gained, lost = sorted(share.users if full else share.gained), sorted(share.lost)
        share.gained, share.lost = set(), set()
        return await self._store.occupy(channel, self.instance, len(share.clients), gained, lost, full)

    def _rewrite_all(self) -> None:
        """The broker lost this instance's writes (or never got some): write every share
        and user again, whole."""
        self._rewrite = False
        for share in self._shares.values():
            share.full = True
        self._dirty.update(self._shares)
        self._dirty.update(self._held)
        self._rehold = True
        self._users_off -= set(self._users)
        self._users_on.update(self._users)
        self._schedule()

    def _failed(self, what: str, exc: Exception) -> None:
        """A write the broker did not take: everything is written again, whole, at the first
        refresh that gets through. One warning per outage, not one per write."""
        if not self._rewrite:
            logger.warning("occupancy %s failed, retried at the next refresh: %s", what, exc)
        self._rewrite = True

    # -- refresh and sweep --------------------------------------------------------------------

    async def _tick(self) -> None:
        while not self._closing:
            try:
                absent = await self._store.hold(self._deployment, self.instance, self.lifetime,
                                                ([], []), ([], []))
                if self._rewrite:
                    logger.info("occupancy writes resumed: this instance's share is written again")
                if absent or self._rewrite:
                    self._rewrite_all()
                for dead, expiry in await self._store.claim(self._deployment, self.ttl, CLAIM_LIMIT):
                    await self._sweep(dead, expiry)
            except Exception as exc:
                if self._closing:
                    return
                self._failed("refresh", exc)
            await asyncio.sleep(period(self.ttl))

    async def _sweep(self, dead: str, expiry: float) -> None:
        """Take back the share of an instance that died: the namespaces it was the last in
        become vacant (reported here, once), its users were last seen at its last refresh."""
        if dead == self.instance:
            return  # this instance stalled past its own expiry: the refresh rewrote it
        namespaces, users = await self._store.holdings(self._deployment, dead)
        for channel in namespaces:
            if await self._store.vacate(channel, dead):
                self._changed(channel, False)
        last_refresh = expiry - self.lifetime
        await asyncio.gather(*(self._store.seen(self._deployment, u, dead, False, last_refresh, self.keep)
                               for u in users))
        await self._store.forget(self._deployment, dead)
        logger.info("occupancy: took back a dead instance's share instance=%s namespaces=%d users=%d",
                    dead, len(namespaces), len(users))


def _unavailable(what: str, exc: Exception) -> BrokerUnavailable:
    """The app is told the broker could not answer, whatever the client library raised."""
    return exc if isinstance(exc, BrokerUnavailable) else BrokerUnavailable(f"{what} unreadable: {exc}")


def _count(counts: dict[str, int], name: str, step: int) -> int:
    """Add ``step`` to ``counts[name]`` (dropping it at 0); the new count."""
    now = counts.get(name, 0) + step
    if now:
        counts[name] = now
    else:
        counts.pop(name, None)
    return now


def _toggle(into: set[str], undo: set[str], name: str) -> None:
    """A user's change not yet written: it cancels the opposite pending one, if any."""
    if name in undo:
        undo.discard(name)
    else:
        into.add(name)
