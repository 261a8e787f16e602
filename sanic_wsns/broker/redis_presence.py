"""Presence in Redis, without a connection: key names and the scripts (files in lua/).

Per namespace a hash of entries (client id → public JSON) and a sorted set of expiry times,
Centrifugo's layout; times come from Redis's own clock (``TIME`` inside the scripts), so
instances with skewed clocks agree on who expired. Both keys take the channel as hash tag.

Occupancy and online status (``RedisOccupancy``) keep counts, not entries: per namespace
each instance's connection count and a count of instances per user; per deployment a
sorted set of live instances (one refresh each per ``ttl / 6``, scored with the time it
is dead: ``liveness.py``) with what each holds, so a dead one is swept by whoever claims
it; per user the instances holding it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from ..occupancy import Change, Status, status
from ..presence import Entries
from .redis_scripts import load, tagged_keys, text

ADD_SCRIPT = load("presence_add")
REMOVE_SCRIPT = load("presence_remove")
EXPIRE_SCRIPT = load("presence_expire")
GET_SCRIPT = load("presence_get")


def presence_keys(channel: str) -> tuple[str, str]:
    """The expiry zset and entries hash of ``channel``, in its cluster slot."""
    expiry, entries = tagged_keys(channel, "presence:expiry", "presence:entries")
    return expiry, entries


def parse_ids(reply: list[Any]) -> list[str]:
    return [text(v) for v in reply]


def parse_entries(reply: list[Any]) -> Entries:
    """``{id, public, id, public, …}`` → ``{id: public}``."""
    return {text(reply[i]): bytes(reply[i + 1]) for i in range(0, len(reply), 2)}


# -- occupancy and online status (occupancy.py) ------------------------------------------------

OCCUPY_SCRIPT = load("occupancy_occupy")
VACATE_SCRIPT = load("occupancy_vacate")
COUNT_SCRIPT = load("occupancy_count")
HOLD_SCRIPT = load("instance_hold")
CLAIM_SCRIPT = load("instance_claim")
HOLDINGS_SCRIPT = load("instance_holdings")
ALIVE_SCRIPT = load("instances_alive")
SEEN_SCRIPT = load("user_seen")
STATUS_SCRIPT = load("user_status")

#: ``script(source, keys, *args)``: the broker's awaited script call.
Script = Callable[..., Awaitable[Any]]


def occupancy_keys(channel: str, instance: str) -> tuple[str, str, str]:
    """The namespace's counts and users hashes, and ``instance``'s users set there."""
    counts, users, held = tagged_keys(channel, "occupancy:counts", "occupancy:users",
                                      f"occupancy:held:{instance}")
    return counts, users, held


def instance_keys(deployment: str, instance: str) -> tuple[str, str, str]:
    """The deployment's instances zset, and ``instance``'s namespaces and users sets: one
    slot, so a script reads or drops them together."""
    every, namespaces, users = tagged_keys(deployment + "instances", "expiry", f"ns:{instance}",
                                           f"users:{instance}")
    return every, namespaces, users


def lease_key(deployment: str) -> str:
    """The deployment's sweepers' leases on dead instances, in the instances' slot."""
    [leases] = tagged_keys(deployment + "instances", "leases")
    return leases


def user_key(deployment: str, user: str) -> str:
    return f"{deployment}user:{user}"


class RedisOccupancy:
    """``occupancy.OccupancyStore`` in Redis: one script call per operation (lua/)."""

    def __init__(self, script: Script):
        self._script = script

    async def occupy(self, channel: str, instance: str, connections: int,
                     gained: list[str], lost: list[str], full: bool = False) -> bool:
        users = (-1, *gained) if full else (len(gained), *gained, *lost)
        reply = await self._script(OCCUPY_SCRIPT, occupancy_keys(channel, instance), instance,
                                   connections, *users)
        return bool(reply)

    async def vacate(self, channel: str, instance: str) -> bool:
        return bool(await self._script(VACATE_SCRIPT, occupancy_keys(channel, instance), instance))

    async def count(self, channel: str) -> tuple[int, int]:
        connections, users = await self._script(COUNT_SCRIPT, occupancy_keys(channel, "")[:2])
        return int(connections), int(users)

    async def hold(self, deployment: str, instance: str, lifetime: float, namespaces: Change,
                   users: Change) -> bool:
        reply = await self._script(
            HOLD_SCRIPT, instance_keys(deployment, instance), instance, int(lifetime * 1000),
            len(namespaces[0]), len(namespaces[1]), len(users[0]),
            *namespaces[0], *namespaces[1], *users[0], *users[1])
        return bool(reply)

    async def claim(self, deployment: str, lease: float, limit: int) -> list[tuple[str, float]]:
        keys = (instance_keys(deployment, "")[0], lease_key(deployment))
        reply = await self._script(CLAIM_SCRIPT, keys, int(lease * 1000), limit)
        return [(text(reply[i]), float(reply[i + 1]) / 1000) for i in range(0, len(reply), 2)]

    async def holdings(self, deployment: str, instance: str) -> tuple[list[str], list[str]]:
        namespaces, users = await self._script(HOLDINGS_SCRIPT, (*instance_keys(deployment, instance),
                                                                 lease_key(deployment)), "read", instance)
        return parse_ids(namespaces), parse_ids(users)

    async def forget(self, deployment: str, instance: str) -> None:
        await self._script(HOLDINGS_SCRIPT, (*instance_keys(deployment, instance), lease_key(deployment)),
                           "forget", instance)

    async def seen(self, deployment: str, user: str, instance: str, holds: bool,
                   at: float | None, keep: float) -> None:
        await self._script(SEEN_SCRIPT, (user_key(deployment, user),), instance, "1" if holds else "0",
                           "" if at is None else int(at * 1000), max(1, math.ceil(keep)))

    async def online(self, deployment: str, users: list[str], lifetime: float) -> dict[str, Status]:
        """Each user's holders (one read per user: in a cluster their keys are anywhere),
        then which holders are alive (one read)."""
        replies = await asyncio.gather(*(self._script(STATUS_SCRIPT, (user_key(deployment, u),))
                                         for u in users))
        scored = {user: [(text(r[i]), text(r[i + 1])) for i in range(0, len(r), 2)]
                  for user, r in zip(users, replies, strict=True)}
        holders = sorted({i for entries in scored.values() for i, score in entries if score == "inf"})
        alive = await self._script(ALIVE_SCRIPT, instance_keys(deployment, "")[:1], *holders)
        now, expiries = float(alive[0]) / 1000, dict(zip(holders, (float(e) / 1000 for e in alive[1:]),
                                                         strict=True))
        return {user: status(entries, expiries, now, lifetime) for user, entries in scored.items()}
