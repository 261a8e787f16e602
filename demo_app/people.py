"""What the others on a map see of a person: a name, a colour of their own, and the bubble
they are working on (the presence's public identity; nothing private).

A page highlights the bubble someone selected in that person's colour and says "editing
bubble 12" next to them. The colour is derived from the account, so it is the same on
every page, every instance and every visit, with no table to keep.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .models import Account

#: Distinct, readable on white, none too close to another (a person's ring round a bubble).
COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
          "#0f9fb4", "#f032e6", "#9a6324", "#469990", "#808000")


def color_of(account_key: str) -> str:
    digest = hashlib.sha256(account_key.encode()).digest()
    return COLORS[int.from_bytes(digest[:4], "big") % len(COLORS)]


def public(account: Account) -> dict[str, Any]:
    """A person on arrival: working on nothing yet."""
    return {"name": account.name, "color": color_of(account.key), "editing": None}


def editing(shown: dict[str, Any], bubble: int | None) -> dict[str, Any]:
    """``shown`` (a person's public identity) working on ``bubble`` (``None``: nothing)."""
    return {**shown, "editing": bubble}
