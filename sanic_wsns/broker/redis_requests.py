"""Request keys in Redis, without a connection: one string key per keyed request, named
after its channel (the channel is its hash tag: in a cluster it sits on the channel's shard),
and the two commands that claim and settle it.

The claim is ``SET key "" NX GET PX window``: one atomic command (Redis ≥ 7.0 takes ``NX``
with ``GET``) that either claims the key and answers nil, or leaves it and answers what it
holds: ``""`` while the first run is in flight, then its answer.
"""

from __future__ import annotations

from redis.asyncio import Redis, RedisCluster

from .redis_lane import Command
from .redis_scripts import tagged_keys


def request_key(channel: str, name: str) -> str:
    (key,) = tagged_keys(channel, f"req:{name}")
    return key


async def claim(client: Redis | RedisCluster, channel: str, name: str, window: float) -> bytes | None:
    """Through ``set()``, not a raw command: redis-py reads a raw ``SET``'s reply as "OK or
    not" and would turn a kept answer into ``False``."""
    reply = await client.set(request_key(channel, name), b"", nx=True, get=True, px=milliseconds(window))
    assert reply is None or isinstance(reply, bytes)  # a client that decodes replies is not ours
    return reply


def claim_command(channel: str, name: str, window: float) -> Command:
    """The claim as raw words, for the writer's own connection (its replies are read raw)."""
    return ("SET", request_key(channel, name), b"", "NX", "GET", "PX", milliseconds(window))


def settle_command(channel: str, name: str, answer: bytes, window: float, claimed: bool = True) -> Command:
    """The answer replaces the claim only while the claim is there (``XX``): a key whose
    window ended meanwhile is not brought back. ``claimed=False`` (the claim went
    unanswered in a stall, and Redis may still run it): set it either way."""
    only_claimed = ("XX",) if claimed else ()
    return ("SET", request_key(channel, name), answer, *only_claimed, "PX", milliseconds(window))


#: Deletes a claim only while it is one (``""``): an answer written meanwhile stays.
RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == '' then return redis.call('DEL', KEYS[1]) end return 0"


def release_command(channel: str, name: str) -> Command:
    """The claim of a request that never ran, given back. ``EVAL``, not ``EVALSHA``: it is
    rare (a connection closed with keyed requests still queued), and Redis caches it."""
    return ("EVAL", RELEASE_SCRIPT, 1, request_key(channel, name))


def milliseconds(seconds: float) -> int:
    """A window as ``PX`` takes it: whole milliseconds, never 0."""
    return max(1, round(seconds * 1000))
