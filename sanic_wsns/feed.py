"""One history namespace's delivery on this instance: in offset order, gaps filled once.

The hub hands every numbered frame heard from the broker to the namespace's ``Feed``; the
feed runs the ``Sequencer`` (recovery.py) and does what it says: writes frames to the
clients in offset order, reads history once when a hole appears (for every client of the
instance at once), tells clients to ``resync`` only when history cannot help.

A client that comes back with ``since``/``epoch`` joins through ``admit``: live frames are
held for it while its missed frames are read, so it gets the missed ones, then the held
ones, with no gap and no duplicate — whatever was published meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .protocol import encode, ws_text_frame
from .recovery import INVALID_SINCE, Entry, Position, Recovery, ResyncReason, Sequencer, Step, plan_recovery

if TYPE_CHECKING:
    from .interfaces import CountsResyncs, Deliver, Recipient

logger = logging.getLogger("sanic_wsns")

#: Seconds to wait before reading a gap again after a failed read (a broker connection
#: that died with the link is replaced meanwhile); ``None``: give up, clients resync.
READ_RETRIES = (0.2, 1.0, None)
#: ``read(after)``: the stream's last position and its frames after ``after``.
HistoryReader = Callable[[int], Awaitable[tuple[Position, list[Entry]]]]
#: ``welcome(position, recovered)``: the client's welcome as a ready WebSocket frame (the
#: wire message itself is ``protocol.Welcome``).
WelcomeFrame = Callable[[Position, bool | None], bytes]
#: A frame delivered while a client's history read was in flight: its offset (``None`` for
#: a ``resync``), the frame, the client ids it skips.
Held = tuple[int | None, bytes, tuple[str, ...]]


def resync_frame(reason: ResyncReason, position: Position | None = None) -> bytes:
    """``resync``, with the position delivery goes on from when it moved (a new epoch
    restarts offsets at 1: a client keeping the old offset would drop the new frames)."""
    data: dict[str, object] = {"reason": reason.value}
    if position is not None:
        data["position"] = position
    return ws_text_frame(encode("resync", data))


def client_frame(frame: bytes) -> bytes:
    """A stored frame (JSON with its offset) as the WebSocket frame every client gets."""
    return ws_text_frame(frame)


class Feed:
    """Frames of one history namespace, in offset order, to its local clients."""

    def __init__(self, read: HistoryReader, deliver: Deliver, name: str, stats: CountsResyncs):
        # Until ``start``: frames heard wait here (the subscription is up, the position is
        # being read); those at or below the position read are dropped then.
        self._sequencer: Sequencer | None = None
        self._early: list[tuple[int, str, bytes, tuple[str, ...]]] = []
        # The broker link came back while the position was being read: that read may
        # have been answered before frames the link missed, so read after it once more.
        self._restored_early = False
        self._read = read
        self._deliver = deliver
        self._name = name
        # Clients catching up: what they are owed after their recovery, in order.
        self._joining: dict[str, list[Held]] = {}
        # Clients that have more than this instance delivered: offset to pass, then enter.
        self._ahead: dict[str, tuple[int, Recipient, Callable[[], None]]] = {}
        self._fill: asyncio.Task[None] | None = None
        #: Where the ``resync`` frames it sends are counted (the instance's stats).
        self.stats = stats

    def start(self, position: Position) -> None:
        """The namespace's position, read after its subscription was confirmed: every frame
        above it reaches the clients."""
        self._sequencer = Sequencer(position)
        early, self._early = self._early, []
        for offset, epoch, frame, exclude in early:
            self.heard(offset, epoch, frame, exclude)
        if self._restored_early:
            self.restored()

    @property
    def position(self) -> Position:
        assert self._sequencer is not None, "Feed.start() comes first"
        return self._sequencer.position

    def heard(self, offset: int, epoch: str, frame: bytes, exclude: tuple[str, ...] = ()) -> None:
        """A numbered frame (already a WebSocket frame) from the broker."""
        if self._sequencer is None:
            self._early.append((offset, epoch, frame, exclude))
            return
        self._apply(self._sequencer.push(offset, epoch, frame), exclude)

    def published(self, offset: int, epoch: str, frame: bytes, exclude: tuple[str, ...] = ()) -> None:
        """This instance's own broadcast, numbered by the history script's reply: its clients
        get it now, in offset order, instead of once its echo came back over the link (the
        echo is then a duplicate, dropped undecoded: ``delivered``). Before ``start`` the
        echo alone brings it."""
        if self._sequencer is not None:
            self._apply(self._sequencer.push(offset, epoch, frame, heard=False), exclude)

    def delivered(self, offset: int, epoch: str) -> bool:
        """Whether frame ``offset`` of ``epoch`` reached this instance's clients already."""
        return self._sequencer is not None and self._sequencer.delivered(offset, epoch)

    def restored(self) -> None:
        """The broker link came back: read what was published while it was away."""
        if self._sequencer is None:
            self._restored_early = True
            return
        self._apply(self._sequencer.resume())

    async def admit(self, client: Recipient, since: int | None, epoch: str | None,
                    welcome: WelcomeFrame, enter: Callable[[], None]) -> Recovery | None:
        """Welcome ``client`` and make it a receiver of this namespace's frames.

        Without ``since`` it starts at the feed's position. With it, the frames it missed
        are read from history and sent after the welcome (``recovered: true``), or a
        ``resync`` follows (``recovered: false``). ``welcome(position, recovered)``
        builds the welcome frame; ``enter()`` adds the client to the namespace's clients.
        """
        if since is None:
            client.write(welcome(self.position, None))
            enter()
            return None
        held = self._joining[client.id] = []
        attached = self.position
        try:
            plan = await self._plan(since, epoch, attached)
        finally:
            self._joining.pop(client.id, None)
        start = since if plan.recovered else attached.offset
        frames = [welcome(Position(start, attached.epoch), plan.recovered)]
        frames += [client_frame(frame) for _, frame in plan.frames]
        if plan.reason is not None:
            self._count(plan.reason)
            frames.append(resync_frame(plan.reason))
        moved = _add_held(frames, client.id, held, plan.skip_through)
        client.write_many(frames)  # one send for all it is owed, not one per frame
        if not moved and plan.skip_through > self.position.offset:
            # It came from an instance that is ahead of this one: it joins the namespace
            # once this feed passes what it has. (After a resync it has nothing to wait
            # for: it got the new position, and offsets on either side do not compare.)
            self._ahead[client.id] = (plan.skip_through, client, enter)
        else:
            enter()
        return plan

    async def _plan(self, since: int, epoch: str | None, attached: Position) -> Recovery:
        if since == INVALID_SINCE:  # malformed: no read can help, and the broker is not asked
            return Recovery(False, reason=ResyncReason.INVALID_POSITION, skip_through=attached.offset)
        if epoch != attached.epoch:  # no read can help across epochs
            return plan_recovery(since, epoch or "", attached, attached, [])
        try:
            top, entries = await self._read(since)
        except Exception as exc:  # the broker is away: the client re-fetches
            logger.warning("history read failed for a recovering client ns=%s: %s", self._name, exc)
            return Recovery(False, reason=ResyncReason.BROKER_LOST, skip_through=attached.offset)
        return plan_recovery(since, epoch, attached, top, entries)

    def _apply(self, step: Step, exclude: tuple[str, ...] = ()) -> None:
        if step.resync is not None:
            self._count(step.resync)
            frame = resync_frame(step.resync, step.position)
            self._deliver(frame, ())
            for held in self._joining.values():
                held.append((None, frame, ()))
            self._release_ahead(0, frame, (), everyone=True)
        for offset, frame in step.deliver:
            # Only the frame that arrived now carries its exclusions: frames from history do
            # not remember them (an excluded client may see its own change once more).
            self._deliver(frame, exclude)
            for held in self._joining.values():
                held.append((offset, frame, exclude))
            if self._ahead:
                self._release_ahead(offset, frame, exclude)
        if step.read_after is not None:
            self._fill = asyncio.get_running_loop().create_task(
                self._read_gap(step.read_after), name=f"wsns-fill {self._name}")

    def _release_ahead(self, offset: int, frame: bytes, exclude: tuple[str, ...],
                       everyone: bool = False) -> None:
        """Admit the clients that were ahead once ``offset`` passes what they have."""
        for client_id, (skip_through, client, enter) in list(self._ahead.items()):
            if everyone or offset > skip_through:
                del self._ahead[client_id]
                if client_id not in exclude:
                    client.write(frame)
                enter()

    async def _read_gap(self, after: int) -> None:
        for attempt, pause in enumerate(READ_RETRIES):
            try:
                top, entries = await self._read(after)
                break
            except Exception as exc:
                logger.warning("history read failed ns=%s after=%d (attempt %d): %s",
                               self._name, after, attempt + 1, exc)
                if pause is None:
                    assert self._sequencer is not None
                    self._apply(self._sequencer.fail())
                    return
                await asyncio.sleep(pause)
        assert self._sequencer is not None
        self._apply(self._sequencer.fill(top, [(o, client_frame(f)) for o, f in entries]))

    def _count(self, reason: ResyncReason) -> None:
        self.stats.resync(reason)

    @property
    def arriving(self) -> bool:
        """Clients on their way in: reading what they missed, or waiting for this instance
        to catch up with them. They are not among the namespace's clients yet, but the
        namespace must not be dropped under them."""
        return bool(self._joining or self._ahead)

    def forget(self, client_id: str) -> None:
        """A client left before it caught up: hold nothing more for it."""
        self._joining.pop(client_id, None)
        self._ahead.pop(client_id, None)

    async def settled(self) -> None:
        """Return once no gap read is in flight (tests and shutdown wait on it)."""
        while self._fill is not None and not self._fill.done():
            await asyncio.gather(asyncio.shield(self._fill), return_exceptions=True)

    async def close(self) -> None:
        """Stop a gap read in flight (the namespace is dropped)."""
        if self._fill is not None and not self._fill.done():
            self._fill.cancel()
            await asyncio.gather(self._fill, return_exceptions=True)


def _add_held(frames: list[bytes], client_id: str, held: list[Held], skip_through: int) -> bool:
    """Add to ``frames`` what the namespace delivered while client ``client_id``'s history
    was read, past what its recovery covered (``skip_through``); whether a ``resync`` was
    among it.

    After such a ``resync`` the offsets are not comparable with ``skip_through`` any more
    (a new epoch starts again at 1; a reset may go on below what the client had): every
    frame that follows it is written, and the resync tells the client its new position.
    """
    moved = False
    for offset, frame, exclude in held:
        if offset is None:
            moved = True
            frames.append(frame)
        elif (moved or offset > skip_through) and client_id not in exclude:
            frames.append(frame)
    return moved
