"""sanic-ext is an optional extra: installing sanic-wsns changes nothing in a user's app, and
``WsnsExtension`` works once the extra is installed (docs/sanic-ext.md).

"Not installed" is played by ``tests/support/plain_app.py`` in a process of its own (this
one has sanic-ext importable when the ``ext`` extra is installed, as in CI)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from sanic_wsns import WsNamespaces, remote, testing
from sanic_wsns.errors import ConfigError
from tests.integration.examples.conftest import START_TIMEOUT
from tests.support.demo import http
from tests.support.plain_app import OWN_ROUTES, PATTERN
from tests.support.processes import ServerProcess, spawner
from tests.support.servers import new_app
from tests.support.wsclient import close_of, join, open_ws

#: What ``WsNamespaces(app)`` adds: its pattern, the 1008 "bad path" route under the
#: pattern's prefix, the 1008 "no pattern matches" routes under its first segment (one
#: for the upgrade, one that keeps other methods a 404), the browser client with its types,
#: and the pattern's SSE stream and POST under /wsns/sse.
WSNS_ROUTES = [PATTERN, "/ws/rooms/<wsns_bad_path:path>", "/ws/<wsns_unmatched:path>",
               "/ws/<wsns_unmatched:path>", "/wsns/client.d.ts", "/wsns/client.js",
               "/wsns/sse" + PATTERN]
#: The line ``WsnsExtension`` fails with when sanic-ext is missing.
MISSING_EXTRA = "ImportError: WsnsExtension needs sanic-ext: pip install 'sanic-wsns[ext]'"


@pytest.fixture(scope="module")
def plain_app() -> Iterator[Callable[..., ServerProcess]]:
    """``start(*flags)`` runs ``tests/support/plain_app.py``; stopped when the module ends."""
    with spawner(end=ServerProcess.stop) as make:
        yield lambda *flags: make([sys.executable, "-m", "tests.support.plain_app", "{port}", *flags],
                                  name="plain-app").start(timeout=START_TIMEOUT)


@pytest.fixture(scope="module")
def without_sanic_ext(plain_app) -> ServerProcess:
    return plain_app("--without-sanic-ext")


async def test_an_app_without_sanic_ext_has_its_own_routes_and_sanic_wsns_ones_only(without_sanic_ext):
    assert (await http(without_sanic_ext, "GET", "/")).data == {"sanic_ext_loaded": False}
    assert (await http(without_sanic_ext, "GET", "/routes")).data == sorted(OWN_ROUTES + WSNS_ROUTES)
    assert (await http(without_sanic_ext, "GET", "/docs")).status == 404


async def test_the_core_serves_without_sanic_ext(without_sanic_ext):
    async with remote.connect(without_sanic_ext.ws("/ws/rooms/7"), **testing.TEST_CLIENT_OPTIONS) as ns:
        assert ns.welcome is not None and ns.welcome["path"] == "/ws/rooms/7"
        assert await ns.request("echo", "hi") == "hi"


def test_wsns_extension_without_sanic_ext_names_the_extra_in_one_line():
    probe = "import sys; sys.modules['sanic_ext'] = None; from sanic_wsns import WsnsExtension"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == MISSING_EXTRA


async def test_with_sanic_ext_installed_sanic_extends_every_app_which_is_why_it_is_an_extra(plain_app):
    pytest.importorskip("sanic_ext")
    server = plain_app()
    assert (await http(server, "GET", "/")).data == {"sanic_ext_loaded": True}
    assert (await http(server, "GET", "/docs")).status == 200


async def test_it_works_as_a_sanic_ext_extension():
    Extend = pytest.importorskip("sanic_ext").Extend
    from sanic_wsns import WsnsExtension

    app = new_app()
    wsns = WsNamespaces(unsubscribe_linger=0)
    room = wsns.pattern("/ws/ext/<n:int>")  # declared before the app is known

    @room.on("echo")
    def echo(ns, client, data: str) -> str:
        return data

    Extend(app, extensions=[WsnsExtension(wsns)], built_in_extensions=False)
    assert app.ctx.wsns is wsns
    async with testing.serve(app) as server:
        ns = await server.connect("/ws/ext/1")
        assert await ns.request("echo", "hi") == "hi"


async def test_the_hub_is_built_from_the_app_s_config_met_at_attach():
    """An instance built before its app (sanic-ext's way) builds its hub once, at
    ``attach``, from the settings with the app's ``WSNS_*`` config merged in: the app's
    namespace cap holds."""
    Extend = pytest.importorskip("sanic_ext").Extend
    from sanic_wsns import WsnsExtension

    app = new_app()
    app.config.WSNS_MAX_NAMESPACES = 1
    wsns = WsNamespaces(unsubscribe_linger=0)
    wsns.pattern("/ws/ext/<n:int>")
    with pytest.raises(ConfigError, match="not attached"):
        wsns.stats()  # nothing answers from settings that are not final yet
    Extend(app, extensions=[WsnsExtension(wsns)], built_in_extensions=False)
    assert wsns.hub.settings is wsns.settings and wsns.settings.max_namespaces == 1
    async with testing.serve(app) as server:
        first, _ = await join(server.ws("/ws/ext/1"))
        second = await open_ws(server.ws("/ws/ext/2"))
        assert (await close_of(second))[0] == 1013
        await first.close()
