"""``python -m sanic_wsns.remote URL``: a namespace on the command line, like wscat but
speaking the protocol (requests matched to their replies, reconnect, recovery).

Every frame the client gets is printed to stdout as one JSON line; state changes and
input mistakes go to stderr, so stdout stays a clean stream of frames to pipe on.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from . import connect
from .closes import Ending, State
from .errors import Denied, RemoteError
from .namespace import RemoteNamespace
from .presence import PresenceChange

USAGE = """\
Each line typed is sent:
  type {json}     a message (the JSON data may be left out: null)
  ?type {json}    a request: its reply (or error) is printed when it comes
Frames received are printed as JSON lines on stdout; state changes on stderr.
Ctrl-D or Ctrl-C closes the connection."""


@dataclass(frozen=True)
class Command:
    """One typed line: a message, or a request when it began with ``?``."""

    type: str
    data: Any
    request: bool


def parse_line(line: str) -> Command | None:
    """``type {json}`` or ``?type {json}``; None for a blank line; ValueError otherwise."""
    text = line.strip()
    if not text:
        return None
    request = text.startswith("?")
    type, _, rest = text.removeprefix("?").partition(" ")
    if not type:
        raise ValueError("a line is `type {json}` or `?type {json}`")
    try:
        data = json.loads(rest) if rest.strip() else None
    except json.JSONDecodeError as error:
        raise ValueError(f"the data after {type!r} is not JSON: {error}") from None
    return Command(type, data, request)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sanic_wsns.remote", epilog=USAGE,
                                     description="Join a sanic-wsns namespace from the command line.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="ws://, wss://, http:// or https:// URL of the namespace")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                        help="an upgrade request header (repeatable), e.g. 'Cookie: user=ann'")
    parser.add_argument("--query", action="append", default=[], metavar="NAME=VALUE",
                        help="an upgrade URL parameter (repeatable)")
    parser.add_argument("--token", help="a token, sent as the wsns.token subprotocol")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply (10)")
    return parser.parse_args(argv)


def pairs(items: list[str], separator: str) -> dict[str, str]:
    """``["Name: value", ...]`` split at the first ``separator``; ValueError without one."""
    parsed = {}
    for item in items:
        name, found, value = item.partition(separator)
        if not found or not name.strip():
            raise ValueError(f"expected NAME{separator}VALUE, got {item!r}")
        parsed[name.strip()] = value.strip()
    return parsed


class Printer:
    """Frames as JSON lines on ``out``, everything else on ``err``; flushed at once."""

    def __init__(self, out: TextIO, err: TextIO):
        self.out, self.err = out, err

    def frame(self, frame: Any) -> None:
        self._line(self.out, frame)

    def note(self, note: Any) -> None:
        self._line(self.err, note)

    @staticmethod
    def _line(stream: TextIO, value: Any) -> None:
        stream.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
        stream.flush()

    def attach(self, ns: RemoteNamespace) -> None:
        def state(state: State, ending: Ending | None) -> None:
            detail = None if ending is None else vars(ending)
            self.note({"type": "state", "data": {"state": state.value, "ending": detail}})

        def presence(members: Any, change: PresenceChange) -> None:
            self.frame({"type": "presence", "data": {"joins": change.joins, "leaves": change.leaves}})

        ns.on("state", state)
        ns.on("welcome", lambda data, frame: self.frame(frame))
        ns.on("presence", presence)


class Session:
    """Typed lines in, frames out, for one namespace."""

    def __init__(self, ns: RemoteNamespace, printer: Printer, timeout: float):
        self.ns, self.printer, self.timeout = ns, printer, timeout
        self._numbers = itertools.count(1)
        self._requests: set[asyncio.Task[None]] = set()

    async def run(self) -> Ending | None:
        """Until stdin ends (None; replies still due are awaited) or the namespace does
        (its ``Ending``)."""
        shown = asyncio.ensure_future(self._show())
        typing = asyncio.ensure_future(self._read_lines())
        ended = asyncio.ensure_future(self.ns.wait_closed())
        try:
            await asyncio.wait({typing, ended}, return_when=asyncio.FIRST_COMPLETED)
            if ended.done():
                return ended.result()
            await asyncio.gather(*self._requests)
            return None
        finally:
            for task in (shown, typing, ended):
                task.cancel()

    async def _show(self) -> None:
        async for frame in self.ns.frames():
            self.printer.frame(frame)

    async def _read_lines(self) -> None:
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            try:
                command = parse_line(line.decode())
            except ValueError as error:
                self.printer.note({"type": "input_error", "data": str(error)})
                continue
            if command is not None:
                await self._obey(command)

    async def _obey(self, command: Command) -> None:
        if command.request:
            task = asyncio.ensure_future(self._answer(command, next(self._numbers)))
            self._requests.add(task)
            return
        try:
            await self.ns.send(command.type, command.data)
        except RemoteError as error:
            self.printer.note({"type": "send_error", "data": {"code": error.code, "message": error.message}})

    async def _answer(self, command: Command, number: int) -> None:
        """Send one request; print its reply or error, tagged with the request's number."""
        try:
            data = await self.ns.request(command.type, command.data, timeout=self.timeout)
        except RemoteError as error:
            details = {"code": error.code, "message": error.message, "details": error.details}
            self.printer.frame({"type": "error", "id": number, "data": details})
        else:
            self.printer.frame({"type": "reply", "id": number, "data": data})


async def run(args: argparse.Namespace, printer: Printer) -> int:
    """0 when stdin ended, 1 when the namespace was refused or ended, 2 for bad options."""
    try:
        headers, query = pairs(args.header, ":"), pairs(args.query, "=")
    except ValueError as error:
        printer.note({"type": "usage_error", "data": str(error)})
        return 2
    client = connect(args.url, headers=headers, query=query, token=args.token)
    printer.attach(client.namespace)
    try:
        async with client as ns:
            ending = await Session(ns, printer, args.timeout).run()
    except Denied as denied:
        printer.note({"type": "denied", "data": {"code": denied.code, "close_code": denied.close_code,
                                                 "reason": denied.reason}})
        return 1
    except RemoteError as error:
        printer.note({"type": "closed", "data": {"code": error.code, "message": error.message}})
        return 1
    return 0 if ending is None else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args, Printer(sys.stdout, sys.stderr)))
    except KeyboardInterrupt:
        return 130
