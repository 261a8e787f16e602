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

Id = Annotated[int, msgspec.Meta(ge=1)]
Version = Annotated[int, msgspec.Meta(ge=1)]
Coord = Annotated[float, msgspec.Meta(ge=-COORD_LIMIT, le=COORD_LIMIT)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
#: A map title: not blank.
Title = Annotated[str, msgspec.Meta(max_length=100, pattern=r"\S")]
#: A user name: words of letters, digits, ``_ . -`` separated by single spaces.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[\w.-]+( [\w.-]+)*$")]


class Bubble(msgspec.Struct, frozen=True):
    id: int
    x: float
    y: float
    text: str
    color: str
    version: int


class Map(msgspec.Struct, frozen=True):
    id: int
    title: str
    owner: str
    private: bool
    members: list[str] = []


class MapCard(Map, frozen=True):
    """A map as ``GET /api/1/maps`` lists it: with its size and when it last changed
    (seconds since the epoch; ``None`` for a map made before the store kept it)."""

    bubble_count: int = 0
    changed_at: float | None = None


class MapView(msgspec.Struct, frozen=True):
    """``GET /api/1/maps/<id>`` and the WebSocket ``snapshot``."""

    map: Map
    bubbles: list[Bubble]


class BubbleDeleted(msgspec.Struct, frozen=True):
    id: int


# -- what clients send ----------------------------------------------------------------------

class _Input(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Unknown fields are an error, not silently dropped: a typo should not look like success."""


class SignIn(_Input):
    name: Name


class NewMap(_Input):
    title: Title
    private: bool = False


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
