"""bubblemap's data shapes: what the store returns and what clients may send.

Every constraint lives here, in the types: a request body or a WebSocket message that
does not fit is rejected by msgspec (``invalid_data``) before any handler runs, so
nothing invalid ever reaches the database.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

#: Bounds keep coordinates finite (NaN and ±inf fail them) and the map a sane size.
COORD_LIMIT = 100_000.0
MAX_TEXT = 500
#: SQLite integers are signed 64-bit: a larger id can name nothing, and binding one raises.
MAX_ID = 2**63 - 1

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Version = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Coord = Annotated[float, msgspec.Meta(ge=-COORD_LIMIT, le=COORD_LIMIT)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
# Patterns end with ``\Z``, never ``$``: ``$`` also matches before a final newline.
Color = Annotated[str, msgspec.Meta(pattern=r"\A#[0-9a-fA-F]{6}\Z")]
#: A map title: not blank.
Title = Annotated[str, msgspec.Meta(max_length=100, pattern=r"\S")]
#: A user name: words of letters, digits, ``_ . -`` separated by single spaces.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"\A[\w.-]+( [\w.-]+)*\Z")]
#: Long enough to resist guessing; bounded so that hashing stays cheap.
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class Account(msgspec.Struct, frozen=True):
    """A registered user: ``name`` as first typed, ``key`` what makes two names one."""

    key: str
    name: str


class Bubble(msgspec.Struct, frozen=True):
    """A bubble as stored. ``edited_by`` is the display name of the account that last
    created or changed it, ``edited_at`` when (seconds since the epoch); both ``None`` for
    a bubble stored before bubblemap kept them."""

    id: int
    x: float
    y: float
    text: str
    color: str
    version: int
    edited_by: str | None = None
    edited_at: float | None = None


class Map(msgspec.Struct, frozen=True):
    """A map. ``revision`` grows with every change to it or its card (title, members,
    bubbles), so a page keeps the copy with the highest one (a ``map-updated`` or
    ``map-card`` frame may arrive twice, or late)."""

    id: int
    title: str
    owner: str
    private: bool
    members: list[str] = []
    revision: int = 0


class MapCard(Map, frozen=True):
    """A map as ``GET /api/1/maps`` lists it and ``map-card`` frames announce it: with its
    size and when it last changed (seconds since the epoch; ``None`` for a map made before
    the store kept it)."""

    bubble_count: int = 0
    changed_at: float | None = None


#: Cards per page of ``GET /api/1/maps``: by default, and at most.
MAPS_PAGE = 50
MAX_MAPS_PAGE = 100


class MapPage(msgspec.Struct, frozen=True):
    """A page of ``GET /api/1/maps``: the cards, newest first, and ``next``, the URL of the
    page of older maps (``None`` on the last page)."""

    maps: list[MapCard]
    next: str | None = None


class MapRemoved(msgspec.Struct, frozen=True):
    """``map-removed``: the map left this list (deleted)."""

    id: int


class MapView(msgspec.Struct, frozen=True):
    """``GET /api/1/maps/<id>`` and the WebSocket ``snapshot``. ``last_bubble_id``: the
    highest bubble id given out when it was read; an id up to it that is not in ``bubbles``
    was deleted (ids are never reused), so a page drops a late frame about it."""

    map: Map
    bubbles: list[Bubble]
    last_bubble_id: int = 0


class BubbleDeleted(msgspec.Struct, frozen=True):
    id: int


# -- what clients send ----------------------------------------------------------------------

class _Input(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Unknown fields are an error, not silently dropped: a typo should not look like success."""


class SignIn(_Input):
    """The first sign-in with a name registers it with this password; later ones must match."""

    name: Name
    password: Password


class MapsQuery(_Input):
    """``GET /api/1/maps?limit=&before=``: at most ``limit`` cards, of maps older than
    ``before`` (a map id: the cursor ``MapPage.next`` carries)."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_MAPS_PAGE)] = MAPS_PAGE
    before: Id | None = None


class NewMap(_Input):
    title: Title
    private: bool = False


class MapChange(_Input):
    """``PATCH /api/1/maps/<id>``: what the owner changes (the title, for now)."""

    title: Title


class NewMember(_Input):
    name: Name


class BubbleCreate(_Input):
    x: Coord
    y: Coord
    text: Text
    color: Color


class BubbleUpdate(_Input):
    """Change some fields of bubble ``id``, which the sender last saw at ``version``."""

    id: Id
    version: Version
    x: Coord | UnsetType = UNSET
    y: Coord | UnsetType = UNSET
    text: Text | UnsetType = UNSET
    color: Color | UnsetType = UNSET

    def changes(self) -> dict[str, float | str]:
        return {f: v for f in ("x", "y", "text", "color") if (v := getattr(self, f)) is not UNSET}


class BubbleDelete(_Input):
    id: Id


class Editing(_Input):
    """What a person is doing on a map (the ``editing`` message): the bubble they selected,
    or ``None`` when they selected none."""

    bubble: Id | None
