"""The publishing writer's own Redis connection: one pipelined batch per round trip, for a
few function calls instead of redis-py's hundreds.

Why it exists: a broadcast in a history namespace needs its offset, so a handler that
awaits it pays one round trip per broadcast. Through redis-py's pipeline that round trip
cost about 170 µs of Python on these machines (a pool lock, a stale-data check, metrics
hooks, a task per write to honour ``socket_timeout``, an encoder call per argument); the
bench's history workload spent most of its extra CPU there. A ``CommandLane`` keeps
redis-py's ``Connection`` (URL options, AUTH, TLS, SELECT, the RESP2 handshake, and the
reply parser, hiredis when installed) and replaces only the batch path: it packs the
commands itself, writes them at once, reads one reply per command, and bounds the whole
batch with one timeout. Like redis-py's pool, it checks before each batch that the server
has not closed the connection meanwhile.

One server only: a cluster's batches go through redis-py's cluster pipeline, which routes
each command to its slot's master and follows ``MOVED``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

#: The connection's check for "closed by the server, or holding bytes nobody asked for":
#: ``can_read`` since redis-py 8, which deprecates the older ``can_read_destructive``.
_CHECK = "can_read" if hasattr(AbstractConnection, "can_read") else "can_read_destructive"

#: One command's words: ``("PUBLISH", channel, payload)``.
Command = Sequence[bytes | str | int]


def pack(commands: Sequence[Command]) -> bytes:
    """Commands in RESP, ready to write: ``*<words>`` then ``$<len>`` and each word."""
    parts: list[bytes] = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for word in command:
            data = word if isinstance(word, bytes) else str(word).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class CommandLane:
    """A connection that sends batches of commands and returns one reply per command (an
    error reply comes back as its ``ResponseError``, as in a pipeline run with
    ``raise_on_error=False``). A batch that fails or times out closes the connection; the
    next batch opens a new one."""

    def __init__(self, connect: Callable[[], AbstractConnection], timeout: float):
        self._connect = connect
        self._timeout = timeout
        self._connection: AbstractConnection | None = None

    async def send(self, commands: Sequence[Command]) -> list[Any]:
        connection = await self._usable()
        try:
            async with asyncio.timeout(self._timeout):
                await connection.send_packed_command(pack(commands), check_health=False)
                replies: list[Any] = []
                for _ in commands:
                    try:
                        replies.append(await connection.read_response(disconnect_on_error=True))
                    except ResponseError as exc:
                        replies.append(exc)
        except BaseException:
            # Replies may still be on their way: this connection can never be trusted again.
            self._connection = None
            await connection.disconnect(nowait=True)
            raise
        return replies

    async def _usable(self) -> AbstractConnection:
        """The connection, disconnected first when the server closed it meanwhile (a
        restart, an idle ``timeout``) or it holds bytes nobody asked for: a batch written
        there would be lost. Checking costs no I/O (redis-py's pool does the same check)."""
        connection = self._connection
        if connection is None:
            connection = self._connection = self._connect()
        elif connection.is_connected:
            try:
                stale = await getattr(connection, _CHECK)()
            except RedisConnectionError:  # it found the socket closed
                stale = True
            if stale:
                await connection.disconnect(nowait=True)
        return connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect(nowait=True)
