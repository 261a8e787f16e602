"""Presence on one instance: the namespaces' mirrors, batched writes, refresh and sweep.

``Tracker`` keeps, for each hosted presence namespace, the ``PresenceMirror`` its clients
are shown and the ``PresenceBatch`` of local joins and leaves not yet written. A batch is
written to the broker's presence store and announced on the namespace's channel at most
once per ``window`` (the first change after a quiet spell goes at once), so a thousand
clients joining together cost a few diffs, not a million frames. A joining client gets its
``presence_state`` with the batch that announces it: it sees itself, and no diff repeats
what its state already said.

One periodic task serves every namespace: every ``ttl / 6`` it refreshes the expiry of
this instance's entries (one write per namespace, however many clients) and sweeps expired
entries (an instance that died without a goodbye); the store hands each expired entry to
one sweeper, which announces the leave. An entry expires ``2 ttl / 3`` after its last
refresh, occupancy's rule (``liveness.py``): a killed instance's clients leave within
``ttl`` of the kill. No instance ever asks another anything.

A namespace's tracked presence (``NamespacePresence``) is a handle the hub holds: a
namespace dropped and re-created at once (its last client reconnecting) gets a new one,
which reads the store only after the old one's last leaves were written, so it never shows them as ghosts
and its joins are announced after those leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import msgspec

from .liveness import lifetime, period
from .presence import STATE_LIMIT, Entries, PresenceBatch, PresenceMirror, encode_diff, encode_state
from .protocol import ws_text_frame

if TYPE_CHECKING:
    from .broker.roles import PresenceStore
    from .interfaces import Deliver, Recipient

logger = logging.getLogger("sanic_wsns")

#: Expired entries one sweep removes per namespace (the next sweep takes the rest).
SWEEP_LIMIT = 1_000


#: ``announce(channel, joins, leaves)``: publish a presence diff to the other instances.
Announce = Callable[[str, list[tuple[str, bytes]], list[str]], None]


class NamespacePresence:
    """Presence of one namespace as this instance sees and shows it."""

    def __init__(self, channel: str, mirror: PresenceMirror, deliver: Deliver):
        self.channel = channel
        self.mirror = mirror
        self.deliver = deliver
        self.local: Entries = {}  # this instance's clients: refreshed every interval
        self.batch = PresenceBatch()
        self.waiting: dict[str, Recipient] = {}  # joined, state not sent yet
        self.flushing: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.last_flush = -1e9
        self.stale = False  # the broker was away: re-read the whole state at the next tick
        #: Diffs heard while the first read is in flight (``None`` once loaded).
        self.early: list[tuple[list[tuple[str, bytes]], list[str]]] | None = None
        #: The last writes of the namespace this one replaces on the channel: its first
        #: read waits for them (it must not see the clients that just left).
        self.after: asyncio.Task[None] | None = None
        #: Set by ``Tracker.drop``: later joins and leaves of its clients change nothing.
        self.dropped = False

    def show(self, joins: Iterable[tuple[str, bytes]], leaves: Iterable[str],
             waiting: Iterable[str] = ()) -> None:
        """Apply a diff to the mirror and show what changed to the clients that have their
        state already (not to ``self.waiting`` nor to ``waiting``, whose state comes next)."""
        changed = self.mirror.apply(joins, leaves)
        if changed:
            self.deliver(ws_text_frame(encode_diff(changed)), (*self.waiting, *waiting))


class Tracker:
    """Every presence namespace hosted on this instance."""

    def __init__(self, store: PresenceStore, announce: Announce, *, ttl: float,
                 window: float = 0.05, state_limit: int = STATE_LIMIT):
        self._store = store
        self._announce = announce
        self.ttl = ttl
        #: Seconds an entry outlives its last refresh (``liveness.py``).
        self.lifetime = lifetime(ttl)
        self.window = window
        self.state_limit = state_limit
        self._tracked: dict[str, NamespacePresence] = {}
        #: Channel → the last writes of its dropped namespaces, until they are done.
        self._retiring: dict[str, asyncio.Task[None]] = {}
        self._ticker: asyncio.Task[None] | None = None

    @property
    def interval(self) -> float:
        """Refresh and sweep period: an entry is refreshed four times in its lifetime."""
        return period(self.ttl)

    def members_by(self, label: Callable[[str], str | None]) -> dict[str, int]:
        """Entries in this instance's mirrors, summed by ``label(channel)`` (a pattern: the
        ``wsns_presence_members`` gauge)."""
        counts: dict[str, int] = {}
        for channel, tracked in self._tracked.items():
            key = label(channel)
            if key is not None:
                counts[key] = counts.get(key, 0) + len(tracked.mirror)
        return counts

    # -- namespaces -------------------------------------------------------------------------

    def open(self, channel: str, deliver: Deliver) -> NamespacePresence:
        """Start tracking a namespace this instance now hosts (subscribed already); diffs
        heard before ``load`` wait for it. The ``NamespacePresence`` returned is the namespace's handle for
        ``load``, ``join``, ``leave`` and ``drop``: a namespace dropped and re-created on
        the same channel gets a new one, and the old one's late calls touch only itself."""
        tracked = NamespacePresence(channel, PresenceMirror(), deliver)
        tracked.early = []
        tracked.after = self._retiring.get(channel)
        self._tracked[channel] = tracked
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="wsns-presence")
        return tracked

    async def load(self, tracked: NamespacePresence) -> None:
        """Read the namespace's presence once, then apply the diffs heard meanwhile: a
        diff is idempotent on the mirror, so their order against the read is harmless.

        The read waits for the last writes of the namespace this one replaces: read
        before them, the state would hold clients whose leave this instance announced
        (and never hears back: its own messages are skipped), ghosts for good."""
        if tracked.after is not None:
            await asyncio.wait({tracked.after})
            tracked.after = None
        try:
            entries = await self._store.presence_get(tracked.channel)
        except Exception as exc:
            logger.warning("presence read failed channel=%s: %s", tracked.channel, exc)
            entries, tracked.stale = {}, True
        tracked.mirror.replace(entries)
        early, tracked.early = tracked.early or [], None
        for joins, leaves in early:
            tracked.mirror.apply(joins, leaves)

    def drop(self, tracked: NamespacePresence) -> asyncio.Task[None]:
        """The namespace is no longer hosted here: its clients leave (a namespace removed
        while clients were in it), what is pending is written, then it is forgotten.

        It leaves the tracker at once, in the caller's step (a namespace re-created
        meanwhile gets a ``NamespacePresence`` of its own, which this one never touches); the writes run
        in a task of their own, so a cancelled caller cannot leave them half done. The
        task is returned for the caller to wait on."""
        tracked.dropped = True
        channel = tracked.channel
        if self._tracked.get(channel) is tracked:
            del self._tracked[channel]
        for client_id in tracked.local:
            tracked.batch.leave(client_id)
        tracked.local.clear()
        tracked.waiting.clear()
        retiring = asyncio.get_running_loop().create_task(
            self._retire(tracked, self._retiring.get(channel)), name=f"wsns-presence-drop {channel}")
        self._retiring[channel] = retiring
        return retiring

    async def _retire(self, tracked: NamespacePresence, before: asyncio.Task[None] | None) -> None:
        if before is not None:  # an older namespace on this channel: its writes go first
            await asyncio.wait({before})
        while True:
            if tracked.timer is not None:
                tracked.timer.cancel()
                tracked.timer = None
            if tracked.flushing is None:
                if not tracked.batch:
                    break
                self._flush_now(tracked)
            flushing = tracked.flushing
            if flushing is not None:
                await asyncio.gather(asyncio.shield(flushing), return_exceptions=True)
        if self._retiring.get(tracked.channel) is asyncio.current_task():
            del self._retiring[tracked.channel]
        if not self._tracked and not self._retiring and self._ticker is not None:
            # Nothing left to refresh: no task outlives the last presence namespace.
            ticker, self._ticker = self._ticker, None
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)

    # -- clients ----------------------------------------------------------------------------

    def join(self, tracked: NamespacePresence, client: Recipient, public: object) -> None:
        """``client`` joined: it gets its state with the diff that announces it."""
        if tracked.dropped:
            return
        encoded = msgspec.json.encode(public)
        tracked.local[client.id] = encoded
        tracked.batch.join(client.id, encoded)
        tracked.waiting[client.id] = client
        self._schedule(tracked)

    def update(self, tracked: NamespacePresence, client_id: str, encoded: bytes) -> None:
        """``client_id`` shows a new public identity (JSON): every client of the namespace
        hears a join of the same id with the new value (an overwrite, no leave)."""
        if tracked.dropped or client_id not in tracked.local:
            return
        tracked.local[client_id] = encoded
        tracked.batch.update(client_id, encoded)
        self._schedule(tracked)

    def leave(self, tracked: NamespacePresence, client_id: str) -> None:
        """``client_id`` left (a client that never joined: nothing to do)."""
        if tracked.dropped or tracked.local.pop(client_id, None) is None:
            return
        tracked.waiting.pop(client_id, None)
        tracked.batch.leave(client_id)
        self._schedule(tracked)

    def heard(self, channel: str, joins: Iterable[tuple[str, bytes]], leaves: Iterable[str]) -> None:
        """Another instance announced a diff."""
        tracked = self._tracked.get(channel)
        if tracked is None:
            return
        if tracked.early is not None:
            tracked.early.append((list(joins), list(leaves)))
        else:
            tracked.show(joins, leaves)

    async def state(self, channel: str) -> Entries:
        """The namespace's presence: the mirror when hosted here, else the store."""
        tracked = self._tracked.get(channel)
        if tracked is not None:
            return dict(tracked.mirror.entries)
        return await self._store.presence_get(channel)

    # -- broker -----------------------------------------------------------------------------

    def restored(self) -> None:
        """The broker came back: what changed meanwhile is re-read at the next tick, and
        this instance's entries are written again at once (a Redis restart lost them)."""
        for tracked in self._tracked.values():
            tracked.stale = True
        if self._tracked:
            asyncio.get_running_loop().create_task(self._refresh_all(), name="wsns-presence-refresh")

    async def close(self) -> None:
        """Graceful stop: this instance's clients leave everyone's presence at once."""
        for tracked in list(self._tracked.values()):
            self.drop(tracked)
        await asyncio.gather(*self._retiring.values(), return_exceptions=True)

    # -- batching ---------------------------------------------------------------------------

    def _schedule(self, tracked: NamespacePresence) -> None:
        if tracked.flushing is not None or tracked.timer is not None:
            return  # the flush in flight (or due) takes this change too
        loop = asyncio.get_running_loop()
        delay = tracked.last_flush + self.window - loop.time()
        if delay <= 0:
            self._flush_now(tracked)
        else:
            tracked.timer = loop.call_later(delay, self._flush_now, tracked)

    def _flush_now(self, tracked: NamespacePresence) -> None:
        tracked.timer = None
        tracked.flushing = asyncio.get_running_loop().create_task(
            self._flush(tracked), name=f"wsns-presence-flush {tracked.channel}")

    async def _flush(self, tracked: NamespacePresence) -> None:
        batch, tracked.batch = tracked.batch, PresenceBatch()
        waiting, tracked.waiting = tracked.waiting, {}
        joins, leaves = [*batch.joins.items(), *batch.updates.items()], batch.leaves
        try:
            if joins:
                added = set(await self._store.presence_add(tracked.channel, joins, self.lifetime))
                # An update is announced whether or not the store had its entry.
                joins = [(cid, public) for cid, public in joins if cid in added or cid in batch.updates]
            if leaves:
                leaves = await self._store.presence_remove(tracked.channel, leaves)
        except Exception as exc:
            # Shown here anyway; the store catches up with the refresh after reconnection.
            logger.warning("presence write failed channel=%s: %s", tracked.channel, exc)
        else:
            if joins or leaves:
                self._announce(tracked.channel, joins, leaves)
        tracked.show(joins, leaves, waiting)
        state = ws_text_frame(encode_state(tracked.mirror.entries, self.state_limit))
        for client in waiting.values():
            client.write(state)
        tracked.last_flush = asyncio.get_running_loop().time()
        tracked.flushing = None
        if tracked.batch or tracked.waiting:
            self._schedule(tracked)

    # -- refresh and sweep ------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._refresh_all()
            for tracked in list(self._tracked.values()):
                await self._sweep(tracked)

    async def _refresh_all(self) -> None:
        for tracked in list(self._tracked.values()):
            if tracked.local:
                await self._refresh(tracked)
            if tracked.stale:
                await self._reconcile(tracked)

    async def _refresh(self, tracked: NamespacePresence) -> None:
        """Extend this instance's entries; any the store had lost come back as joins.

        A client that left while the write was on its way may have had its leave written
        first (Redis runs the two on different connections): the write re-created its
        entry, so it leaves again (a leave heard twice changes no mirror)."""
        entries = list(tracked.local.items())
        try:
            added = set(await self._store.presence_add(tracked.channel, entries, self.lifetime))
        except Exception as exc:
            logger.warning("presence refresh failed channel=%s: %s", tracked.channel, exc)
            return
        joins = [(cid, public) for cid, public in entries if cid in added and cid in tracked.local]
        if joins:
            self._announce(tracked.channel, joins, [])
            tracked.show(joins, [])
        returned = [cid for cid in added if cid not in tracked.local]
        if returned:
            for client_id in returned:
                tracked.batch.leave(client_id)
            self._schedule(tracked)

    async def _sweep(self, tracked: NamespacePresence) -> None:
        """Remove entries whose instance stopped refreshing them; announce each leave."""
        try:
            expired = await self._store.presence_expire(tracked.channel, SWEEP_LIMIT)
        except Exception as exc:
            logger.warning("presence sweep failed channel=%s: %s", tracked.channel, exc)
            return
        if expired:
            self._announce(tracked.channel, [], expired)
            tracked.show([], expired)

    async def _reconcile(self, tracked: NamespacePresence) -> None:
        try:
            entries = await self._store.presence_get(tracked.channel)
        except Exception as exc:
            logger.warning("presence read failed channel=%s: %s", tracked.channel, exc)
            return
        tracked.stale = False
        entries.update(tracked.local)  # this instance knows its own clients best
        changed = tracked.mirror.replace(entries)
        if changed:
            tracked.deliver(ws_text_frame(encode_diff(changed)), tuple(tracked.waiting))
