"""Where bubblemap's frames go: a map's namespace, and the map lists' namespaces.

A map list is split by audience, because a frame goes to everyone in its namespace: the
cards of public maps go to ``public``, which every signed-in user may open; a private
map's card goes to the personal list of its owner and of each member, which only that
account may open. A list page opens both.
"""

from __future__ import annotations

import hashlib
import re

from .accounts import name_key

MAP_PATTERN = "/api/1/ws/bubblemap/<map_id:int>"
LIST_PATTERN = "/api/1/ws/maps/<audience:str>"
PUBLIC = "public"


def map_path(map_id: int) -> str:
    return f"/api/1/ws/bubblemap/{map_id}"


def list_path(audience: str) -> str:
    return f"/api/1/ws/maps/{audience}"


_PERSONAL = re.compile(r"\Auser-[0-9a-f]{32}\Z")


def personal(key: str) -> str:
    """The audience of one account's personal list, by its name key: a fixed-size token
    that is safe in a path whatever letters the name has (who may open it is checked
    against the session, never inferred from the token)."""
    return "user-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def is_personal(audience: str) -> bool:
    """Whether ``audience`` has the shape of some account's personal list."""
    return _PERSONAL.match(audience) is not None


def audiences(private: bool, owner: str, members: list[str]) -> list[str]:
    """The lists a map's card goes to: ``public``, or the personal lists of the owner and
    members of a private map (names as stored; their keys pick the list)."""
    if not private:
        return [PUBLIC]
    return [personal(name_key(name)) for name in dict.fromkeys([owner, *members])]
