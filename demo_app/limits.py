"""bubblemap's bounds: how much one map may hold and how fast one user may go.

The bubble cap is derived, not guessed: a map's ``snapshot`` is one frame, and a client
whose send queue holds more than ``max_send_queue`` bytes is closed as a slow consumer
(1013). So a full map of worst-case bubbles (every text character escaped to six bytes,
ids at 64 bits, the longest float spelling) must fit in that queue with room to spare.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from .models import MAX_ID, MAX_TEXT, Bubble, Map, MapView
from .throttle import Rate

MAX_MEMBERS = 100
#: Room left in the send queue for the welcome, frame headers and frames sent meanwhile.
SEND_QUEUE_HEADROOM = 64 * 1024

_LONGEST_FLOAT = -2.2250738585072014e-308  # within the coordinate bounds, 24 characters
_LONGEST_NAME = "\U0001d538" * 32  # 32 four-byte letters


def worst_bubble() -> Bubble:
    """The bubble with the longest JSON a client may create (last edited by the longest
    name)."""
    return Bubble(id=MAX_ID, x=_LONGEST_FLOAT, y=_LONGEST_FLOAT, text="\x00" * MAX_TEXT,
                  color="#000000", version=MAX_ID, edited_by=_LONGEST_NAME, edited_at=_LONGEST_FLOAT)


def worst_snapshot(bubbles: int) -> MapView:
    """The largest ``snapshot`` of a map holding ``bubbles`` bubbles."""
    fullest = Map(id=MAX_ID, title="\x00" * 100, owner=_LONGEST_NAME, private=True,
                  members=[_LONGEST_NAME] * MAX_MEMBERS)
    return MapView(map=fullest, bubbles=[worst_bubble()] * bubbles)


def bubbles_fitting(send_queue: int) -> int:
    """How many bubbles a map may hold for its snapshot to fit ``send_queue`` bytes."""
    per_bubble = len(msgspec.json.encode(worst_bubble())) + 1  # and a comma
    empty = len(msgspec.json.encode({"type": "snapshot", "data": worst_snapshot(0)}))
    return (send_queue - SEND_QUEUE_HEADROOM - empty) // per_bubble


REST_RATE = Rate(per_second=20, burst=60)
#: A person edits a bubble at most a few times a second (an update is sent when a drag or
#: a text edit ends); the burst covers a quick series of keyboard moves.
EDIT_RATE = Rate(per_second=10, burst=50)
#: Making maps is rare: a few dozen in a row, then ten a minute (17k public maps were made in
#: 83 s from 10 accounts).
MAP_CREATION_RATE = Rate(per_second=10 / 60, burst=30)
SIGN_IN_RATE = Rate(per_second=10 / 60, burst=10)
#: Every attempt costs a 50 ms hash: one account hashed 27 times a second when successes
#: were free. A person signs in a few times a day; a test suite, a few dozen times a minute.
SIGN_IN_NAME_RATE = Rate(per_second=1, burst=30)
SIGN_IN_ADDRESS_RATE = Rate(per_second=1, burst=60)
REGISTRATION_RATE = Rate(per_second=30 / 60, burst=30)
#: Each change of what a person is doing goes to everyone on the map (a presence diff per
#: client, on every instance): a person selects a few bubbles a second at most.
PRESENCE_UPDATE_RATE = Rate(per_second=5, burst=20)


@dataclass(frozen=True)
class Limits:
    """Everything bounded per user or per map; tests shrink them to reach them quickly."""

    #: ``None``: as many as fit the extension's ``max_send_queue`` (see ``bubbles_fitting``).
    bubbles_per_map: int | None = None
    members_per_map: int = MAX_MEMBERS
    #: Every signed-in REST call (a page makes a few per user action).
    rest: Rate = REST_RATE
    #: Bubble edits (create, update, delete) per account, over WebSocket and REST together,
    #: across its connections and every instance (kept in the shared database).
    edits: Rate = EDIT_RATE
    #: Maps one account may own (over it: 409 ``too_many_maps``), and how fast it may
    #: create them, across instances (kept in the shared database like ``edits``).
    maps_per_user: int = 100
    map_creations: Rate = MAP_CREATION_RATE
    #: Failed sign-ins per name and client address: guessing a password stays slow.
    sign_in: Rate = SIGN_IN_RATE
    #: Sign-in attempts (failed or not: each costs a hash) per name, from any address.
    sign_in_per_name: Rate = SIGN_IN_NAME_RATE
    #: Sign-in attempts per client address, whatever the names: fresh names buy nothing.
    sign_in_per_address: Rate = SIGN_IN_ADDRESS_RATE
    #: New accounts per client address (each costs an scrypt hash and a row).
    registrations: Rate = REGISTRATION_RATE
    #: WebSockets one user may hold open on one instance (over it: 1013 "too many
    #: connections"); a page holds one per open map.
    connections_per_user: int = 50
    #: Changes of what the user is doing on a map (``editing``), per instance.
    presence_updates: Rate = PRESENCE_UPDATE_RATE


DEFAULT_LIMITS = Limits()
