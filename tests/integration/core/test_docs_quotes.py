"""The docs quote the code, and this test checks every quote: each message that
docs/troubleshooting.md and docs/getting-started.md quote (close reasons and log lines in
their tables, start-up errors in bold, lines printed as ``sanic-wsns: ...``, warnings in
``text`` blocks) must be what the code produces in a real run, ``…`` standing for the
parts that vary. A message reworded in the code, or a page that paraphrases, fails here."""

from __future__ import annotations

import importlib
import logging
import re
import sys
import warnings
from pathlib import Path

import pytest
from sanic import Sanic
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from sanic_wsns import WsNamespaces
from sanic_wsns.broker.urls import parse_broker_url
from sanic_wsns.paths import PathTemplate
from tests.support.servers import new_app, serve
from tests.support.wsclient import close_of, join, open_ws

ROOT = Path(__file__).resolve().parents[3]
PAGES = ["docs/troubleshooting.md", "docs/getting-started.md"]


def quotes() -> list[str]:
    """Every message the pages quote from the code."""
    found: list[str] = []
    for page in PAGES:
        text = (ROOT / page).read_text()
        for block in re.findall(r"^```text\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE):
            found += re.findall(r"Warning: (.+)$", block, flags=re.MULTILINE)
        prose = re.sub(r"^```.*?^```$", "", text, flags=re.DOTALL | re.MULTILINE)
        found += re.findall(r"\*\*`([^`]+)`\*\*", prose)
        found += re.findall(r"`(sanic-wsns: [^`]+)`", prose)
        if page.endswith("troubleshooting.md"):
            for row in re.findall(r"^\|(.+)\|$", prose, flags=re.MULTILINE):
                found += [cell.strip()[1:-1] for cell in row.split("|")
                          if re.fullmatch(r"\s*`[^`]+`\s*", cell)]
    return list(dict.fromkeys(found))


def as_pattern(quote: str) -> re.Pattern[str]:
    return re.compile(".+?".join(re.escape(part) for part in quote.split("…")))


def described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def startup_messages() -> list[str]:
    """What refusing a bad configuration prints: exceptions and ``sys.exit`` lines."""
    said: list[str] = []
    app = new_app()
    app.config.WSNS_RATE_LIMT = 7
    for attempt in (lambda: WsNamespaces(app), lambda: parse_broker_url("kafka://127.0.0.1"),
                    lambda: PathTemplate("/ws/items/{item_id}")):
        try:
            attempt()
        except Exception as exc:
            said.append(described(exc))
    Sanic._app_registry.pop(app.name, None)
    app = new_app()
    wsns = WsNamespaces(app)
    rooms = wsns.pattern("/ws/rooms/<room_id:int>")
    exec("from __future__ import annotations\nasync def bid(ns, client, data: Bid): ...", namespace := {})
    rooms.on("bid")(namespace["bid"])
    app.state.workers = 2
    for listener in app.listeners["main_process_start"]:
        try:
            listener(app)
        except SystemExit as exc:
            said.append(str(exc.code))
    Sanic._app_registry.pop(app.name, None)
    said.append(missing_sanic_ext())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wsns.disconnect(user="ada")
    said += [str(w.message) for w in caught]
    return said


def missing_sanic_ext() -> str:
    names = ("sanic_ext", "sanic_wsns.extend")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.modules["sanic_ext"] = None  # type: ignore[assignment]
    try:
        importlib.import_module("sanic_wsns.extend")
    except ImportError as exc:
        return described(exc)
    finally:
        del sys.modules["sanic_ext"]
        sys.modules.update(saved)
    raise AssertionError("sanic_wsns.extend imported without sanic-ext")


async def reason(url: str, *, origin: str | None = None, send: int = 0,
                 subprotocols: list[Subprotocol] | None = None) -> str:
    """The close reason a client at ``url`` gets (after sending ``send`` messages)."""
    ws = await open_ws(url, origin=origin, subprotocols=subprotocols)
    try:
        for _ in range(send):
            await ws.send('{"type": "x"}')
    except ConnectionClosed:
        pass
    return (await close_of(ws))[1] or ""


async def run_messages() -> list[str]:
    """Close reasons of refused and closed clients, from real servers."""
    app = new_app()
    wsns = WsNamespaces(app, max_param_length=5, rate_limit=0.01, rate_burst=1, abuse_limit=1)
    rooms = wsns.pattern("/ws/rooms/<room_id:int>")
    wsns.pattern("/ws/texts/<name:str>")

    @rooms.authorize
    def can_join(request, room_id):
        if room_id == 500:
            raise RuntimeError("a hook that crashes")
        return room_id != 403 and "ann"

    @rooms.on_connect
    async def hello(ns, client):
        if ns.params["room_id"] == 7:
            raise RuntimeError("a hook that crashes")

    said: list[str] = []
    async with serve(app) as server:
        said.append(await reason(server.ws("/ws/rooms/1"), origin="http://evil.example"))
        for path in ("/ws/texts/abcdefgh", "/ws/texts/a%2Fb", "/ws/rooms/abc", "/ws/room/1",
                     "/ws/rooms/403", "/ws/rooms/500", "/ws/rooms/7"):
            said.append(await reason(server.ws(path)))
        with pytest.raises(InvalidStatus):
            await open_ws(server.ws("/elsewhere/1"))
        said.append(await reason(server.ws("/ws/rooms/2"), send=5))
        fragmenter, _ = await join(server.ws("/ws/rooms/3"))
        await fragmenter.send(["x"] * 70)  # one message, one frame per element
        said.append((await close_of(fragmenter))[1] or "")
        said.append(await reason(server.ws("/ws/rooms/1"),
                                 subprotocols=[Subprotocol("wsns.v1"), Subprotocol("wsns.token.a")]))
    for setting in ("max_namespaces", "max_connections"):
        app = new_app()
        wsns = WsNamespaces(app, **{setting: 1})
        wsns.pattern("/ws/rooms/<room_id:int>")
        async with serve(app) as server:
            first, _ = await join(server.ws("/ws/rooms/1"))
            said.append(await reason(server.ws("/ws/rooms/2")))
            await first.close()
    return said


def test_the_pages_quote_messages():
    assert len(quotes()) >= 20, quotes()


async def test_every_message_the_docs_quote_is_what_the_code_says(caplog):
    caplog.set_level(logging.INFO, "sanic_wsns")
    said = startup_messages() + await run_messages()
    said += [record.getMessage() for record in caplog.records if record.name == "sanic_wsns"]
    misquoted = [quote for quote in quotes() if not any(as_pattern(quote).fullmatch(m) for m in said)]
    assert not misquoted, "\n".join(["quoted, but not what the code says:", *misquoted,
                                     "the code says:", *said])
