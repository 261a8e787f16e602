"""``python -m sanic_wsns.remote``: a subprocess against a real server, lines typed on its
stdin, frames read from its stdout (every read bounded)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.integration.remote.conftest import TIMEOUT, fast

#: Starting a Python that imports websockets and msgspec takes a while on a busy box.
START = 30.0
#: The checkout under test comes first, whatever sanic_wsns is installed.
ROOT = Path(__file__).resolve().parents[3]


class Cli:
    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def frame(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        assert line, "the CLI ended its output"
        return json.loads(line)

    async def until(self, type: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while (frame := await self.frame()).get("type") != type:
                pass
        return frame

    async def note(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        assert self.process.stderr is not None
        return json.loads(await asyncio.wait_for(self.process.stderr.readline(), timeout))

    async def end(self) -> int:
        """Close stdin (Ctrl-D) and wait for the exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await asyncio.wait_for(self.process.wait(), TIMEOUT)


@asynccontextmanager
async def cli(*args: str) -> AsyncIterator[Cli]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sanic_wsns.remote", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    try:
        yield Cli(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_frames_are_printed_and_typed_lines_are_sent_as_messages_and_requests(core):
    server, _wsns, _events = core
    async with cli(server.ws("/ws/open/cli")) as tool, fast(server.ws("/ws/open/cli")) as other:
        welcome = await tool.frame(START)
        assert welcome["type"] == "welcome" and welcome["data"]["path"] == "/ws/open/cli"
        await tool.type('?add {"a": 1, "b": 2}')
        frames = [await tool.frame(), await tool.frame()]  # the broadcast and the reply, either order
        assert sorted(frames, key=str) == [{"type": "added", "data": 3},
                                           {"type": "reply", "id": 1, "data": 3}]
        heard = other.frames("said")
        await tool.type('say "from the shell"')
        assert (await asyncio.wait_for(anext(heard), TIMEOUT))["data"] == "from the shell"
        await other.send("say", "to the shell")
        assert await tool.until("said") == {"type": "said", "data": "to the shell"}
        await tool.type("?conflict 1")
        error = await tool.until("error")
        assert error["id"] == 2 and error["data"]["code"] == "conflict"
        await tool.type("?add {not json")
        assert (await tool.note())["type"] == "state"  # "open" came first
        assert (await tool.note())["type"] == "input_error"
        assert await tool.end() == 0


async def test_headers_and_queries_are_sent_and_a_reconnect_is_noted_on_stderr(core):
    server, wsns, _events = core
    async with cli(server.ws("/ws/user/3"), "--query", "user=shell", "--header", "X-Any: 1") as tool:
        assert (await tool.frame(START))["type"] == "welcome"
        await tool.type("?whoami")
        assert (await tool.until("reply"))["data"]["identity"] == "shell"
        await wsns.remove_namespace("/ws/user/3", code=1012, reason="restart")
        assert (await tool.until("welcome"))["type"] == "welcome"  # reconnected
        notes = [(await tool.note())["data"]["state"] for _ in range(3)]
        assert notes == ["open", "reconnecting", "open"]
        assert await tool.end() == 0


async def test_a_refusal_is_reported_and_exits_1(core):
    server, _wsns, _events = core
    async with cli(server.ws("/ws/sync/403")) as tool:
        assert await asyncio.wait_for(tool.process.wait(), START) == 1
        notes = [await tool.note() for _ in range(2)]
        assert notes[-1] == {"type": "denied", "data": {"code": "forbidden", "close_code": 4403,
                                                        "reason": "room 403 says no"}}
