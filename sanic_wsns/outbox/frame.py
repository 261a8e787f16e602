"""What the outbox stores and when it acts: a recorded frame, and the relay's timing."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec


class Frame(msgspec.Struct, frozen=True):
    """One recorded announcement: ``{type, data}`` for the namespace at ``path``.

    ``id`` and ``created`` (Unix seconds) identify the row: the relay publishes the frame
    with a ``key`` made of both (``Relay.key``), so a row published twice within the
    idempotency window is delivered once. ``scheduled`` when a sweep publishes it by design
    (``schedule``), not as a late one.
    """

    id: int
    path: str
    type: str
    data: msgspec.Raw
    created: float
    scheduled: bool = False


@dataclass(frozen=True)
class Timing:
    """When the relay acts (seconds) and how much it takes at once.

    The defaults keep a re-publication (``grace`` + ``lease`` after a commit at most,
    while relays run) far inside the default ``WSNS_IDEMPOTENCY_WINDOW`` of 300 s, which is
    what makes it a no-op for the pages.
    """

    #: Rows younger than this are left to the instance that wrote them (it announces them).
    grace: float = 2.0
    #: A claim lasts this long: a claimer that died or could not publish is taken over after it.
    lease: float = 5.0
    #: How long to wait for the broker to write a frame before leaving it to a sweep.
    confirm_timeout: float = 4.0
    #: Every relay looks for overdue rows this often, at most ``batch`` rows a time.
    tick: float = 0.5
    batch: int = 100
    #: Published rows are deleted this long after publication, on every tick, by
    #: transactions of ``prune_batch`` rows (another writer waits for one batch at most), up
    #: to ``prune_batches`` per tick. Pruning 500 rows a minute let one bubblemap user grow
    #: the table by 30k rows in 30 s; this keeps up with 20k published rows a second.
    keep: float = 5.0
    prune_batch: int = 500
    prune_batches: int = 20


#: A scheduled frame is published this long after the first change it carries (seconds).
SCHEDULE_DELAY = 0.5


def encode(data: object) -> bytes:
    """A frame's data as the JSON stored in the row (and published as is)."""
    return _encode(data)


_encode = msgspec.json.Encoder().encode
