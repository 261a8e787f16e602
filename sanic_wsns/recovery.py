"""Recovery without I/O: a namespace's frames in offset order, and what a returning client gets.

In a namespace with history every broadcast gets an offset (1, 2, 3, … inside an epoch)
from the broker, which keeps the last frames in a bounded history. Two decisions follow,
both pure and both here:

* ``Sequencer``: an instance delivers a namespace's frames to its clients strictly in offset
  order, exactly once. A hole (a frame lost with a broker link, or skipped) is filled from
  history **once for the whole namespace**; only what history cannot cover becomes a
  ``resync``, with its reason.
* ``plan_recovery``: a client that comes back with the last offset it saw gets exactly the
  frames it missed, or is told why it cannot (``recovered: false`` and a ``resync``).

The hub does the I/O (broker reads, socket writes) and feeds the results back here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

#: Frames held while a hole is being filled; past this the namespace gives up and resyncs
#: (a broker that floods faster than history can be read is better served by a re-fetch).
MAX_PENDING = 10_000


class Position(msgspec.Struct, frozen=True):
    """The last offset of a namespace's stream inside its epoch (``0`` before any frame)."""

    offset: int
    epoch: str


class ResyncReason(enum.StrEnum):
    """``resync.data.reason``: why a client must re-fetch instead of being caught up."""

    EPOCH_CHANGED = "epoch_changed"  # the history store lost the stream (e.g. Redis restarted empty)
    HISTORY_EXHAUSTED = "history_exhausted"  # the missed frames were trimmed or expired
    BROKER_LOST = "broker_lost"  # no history to fill the gap of a broker outage
    OVERFLOW = "overflow"  # more frames arrived during a fill than an instance will hold
    INVALID_POSITION = "invalid_position"  # the client claims an offset its epoch never had


#: One stored frame: its offset and the exact bytes every client receives.
Entry = tuple[int, bytes]


@dataclass(slots=True)
class Step:
    """What the hub does after feeding the sequencer, in this order: tell every client to
    ``resync`` (when set), write ``deliver`` to every client, then read history after
    ``read_after`` (when set) and hand the result to ``Sequencer.fill``."""

    deliver: list[Entry] = field(default_factory=list)
    resync: ResyncReason | None = None
    #: With ``resync``: where delivery goes on from (the frames after it follow). Clients
    #: take it as their position: after a new epoch, offsets start again from 1.
    position: Position | None = None
    read_after: int | None = None


class Sequencer:
    """Orders one namespace's frames by offset; knows when history must fill a hole.

    Redis publishes a channel's frames in offset order on every subscriber link, so a frame
    that skips an offset means the link lost some: the frames behind the hole wait in
    ``pending`` while one history read fills it.
    """

    __slots__ = ("_epoch", "_offset", "_pending", "_reading", "_max_pending")

    def __init__(self, position: Position, max_pending: int = MAX_PENDING):
        self._epoch = position.epoch
        self._offset = position.offset
        self._pending: dict[int, bytes] = {}
        self._reading = False
        self._max_pending = max_pending

    @property
    def position(self) -> Position:
        """The last offset delivered to the namespace's clients: every later one will follow."""
        return Position(self._offset, self._epoch)

    @property
    def filling(self) -> bool:
        """Whether a history read is in flight (``fill`` is awaited)."""
        return self._reading

    def push(self, offset: int, epoch: str, frame: bytes, heard: bool = True) -> Step:
        """A frame heard from the broker (``heard``), or numbered for this instance's own
        broadcast (the history script's reply, ``heard=False``).

        Only a frame heard on the link proves a hole: the link brings a channel's frames in
        offset order, while a reply can overtake a frame another instance numbered just
        before it, still on its way over the link. A reply behind a hole waits for the link.
        """
        step = Step()
        if epoch != self._epoch:
            # The stream was lost and started again: nobody can be caught up across epochs.
            self._reset(Position(offset - 1, epoch), step, ResyncReason.EPOCH_CHANGED)
        if offset <= self._offset:
            return step  # already delivered: a duplicate
        self._pending.setdefault(offset, frame)
        self._drain(step)
        if len(self._pending) > self._max_pending:
            self._reset(Position(max(self._pending), self._epoch), step, ResyncReason.OVERFLOW)
        elif self._pending and heard and not self._reading:
            self._reading = True
            step.read_after = self._offset
        return step

    def delivered(self, offset: int, epoch: str) -> bool:
        """Whether frame ``offset`` of ``epoch`` reached the clients already (its echo on
        the link is dropped before it is decoded)."""
        return epoch == self._epoch and offset <= self._offset

    def resume(self) -> Step:
        """The broker link came back: frames may have been published meanwhile; read them."""
        step = Step()
        if not self._reading:
            self._reading = True
            step.read_after = self._offset
        return step

    def fill(self, top: Position, entries: Iterable[Entry]) -> Step:
        """The history read asked by ``read_after`` returned: ``top`` is the stream's last
        position and ``entries`` its frames after the asked offset, in offset order."""
        self._reading = False
        step = Step()
        if top.epoch != self._epoch:
            self._reset(top, step, ResyncReason.EPOCH_CHANGED)
            return step
        for offset, frame in entries:
            if offset > self._offset:
                self._pending.setdefault(offset, frame)
        self._drain(step)
        if self._offset < top.offset or self._pending:
            # History does not reach back to the hole: trimmed or expired.
            later = sorted((o, f) for o, f in self._pending.items() if o > top.offset)
            self._reset(Position(later[-1][0] if later else top.offset, self._epoch), step,
                        ResyncReason.HISTORY_EXHAUSTED)
            step.deliver.extend(later)
        return step

    def fail(self) -> Step:
        """The history read failed: the hole cannot be filled, so clients resync and the
        frames held behind it are delivered."""
        self._reading = False
        step = Step()
        later = sorted(self._pending.items())
        self._reset(Position(later[-1][0] if later else self._offset, self._epoch), step,
                    ResyncReason.BROKER_LOST)
        step.deliver.extend(later)
        return step

    def _drain(self, step: Step) -> None:
        pending = self._pending
        while (frame := pending.pop(self._offset + 1, None)) is not None:
            self._offset += 1
            step.deliver.append((self._offset, frame))

    def _reset(self, position: Position, step: Step, reason: ResyncReason) -> None:
        """Give up on catching up: clients resync, and delivery goes on after ``position``."""
        step.resync = reason
        step.position = position
        step.deliver.clear()
        self._epoch = position.epoch
        self._offset = position.offset
        self._pending.clear()


@dataclass(slots=True)
class Recovery:
    """The answer to a client that came back with ``since``/``epoch``.

    When ``recovered``, ``frames`` are exactly the ones it missed up to the namespace's
    position, and live frames at or below ``skip_through`` must not be sent to it again.
    Otherwise ``reason`` says why it must re-fetch (a ``resync`` follows the welcome).
    """

    recovered: bool
    frames: list[Entry] = field(default_factory=list)
    reason: ResyncReason | None = None
    skip_through: int = 0


#: ``since`` as ``requested_position`` returns it for a position no stream can have: a
#: malformed offset or epoch. No history read can help, so none is made.
INVALID_SINCE = -1
#: Longest ``since`` (digits; offsets stay far below 10**18) and ``epoch`` (``new_epoch``
#: makes 8 hex digits; a larger bound leaves room) a client may send.
_MAX_SINCE_DIGITS = 18
_MAX_EPOCH_LENGTH = 64
_EPOCH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def requested_position(since: str | None, epoch: str | None) -> tuple[int | None, str | None]:
    """``since``/``epoch`` from an upgrade URL's query: ``(None, None)`` when the client did
    not ask. A ``since`` that is not a whole number ≥ 0 (``-1``, ``1.5``, ``1e30``, a huge
    int) or an epoch that no stream can have (not URL-safe letters and digits, too long) gives
    ``INVALID_SINCE``: the client gets ``recovered: false`` and a ``resync`` with reason
    ``invalid_position``, not a refusal, and the broker is never asked about it."""
    if since is None:
        return None, None
    if not (since.isascii() and since.isdigit()) or len(since) > _MAX_SINCE_DIGITS:
        return INVALID_SINCE, epoch
    if epoch is not None and not (len(epoch) <= _MAX_EPOCH_LENGTH and _EPOCH_CHARS.issuperset(epoch)):
        return INVALID_SINCE, None
    return int(since), epoch


def plan_recovery(since: int, epoch: str, position: Position, top: Position,
                  entries: Iterable[Entry]) -> Recovery:
    """What a client that saw everything up to ``since`` in ``epoch`` receives.

    ``position`` is what the namespace had delivered when the client joined (live frames
    after it reach the client anyway); ``top`` and ``entries`` are the history read made
    after the join: the stream's last position and its frames after ``since``.
    """
    if epoch != position.epoch or top.epoch != position.epoch:
        return Recovery(False, reason=ResyncReason.EPOCH_CHANGED, skip_through=position.offset)
    if since < 0 or since > top.offset:
        return Recovery(False, reason=ResyncReason.INVALID_POSITION, skip_through=position.offset)
    if since >= position.offset:
        # The client is ahead of this instance (it came from a faster one): nothing to send
        # now, and the live frames it already has are skipped.
        return Recovery(True, skip_through=since)
    frames: list[Entry] = []
    expected = since + 1
    for offset, frame in entries:
        if offset < expected:
            continue
        if offset != expected or offset > position.offset:
            break
        frames.append((offset, frame))
        expected += 1
    if expected != position.offset + 1:
        return Recovery(False, reason=ResyncReason.HISTORY_EXHAUSTED, skip_through=position.offset)
    return Recovery(True, frames, skip_through=position.offset)
