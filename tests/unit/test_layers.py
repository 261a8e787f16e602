"""The package's layering, read from its imports: the extension is the only Sanic adapter
above everything else, and the pure modules stay free of I/O frameworks."""

import ast
from pathlib import Path

import pytest

import sanic_wsns

PACKAGE = Path(sanic_wsns.__file__).parent
#: Modules allowed to import the extension: the package's front door and sanic-ext glue.
ABOVE_THE_EXTENSION = {"__init__.py", "extend.py", "extension.py"}
#: Modules that know nothing of Sanic (connection.py reads Sanic's websocket exceptions).
SANIC_FREE = ["hub.py", "admission.py", "screening.py", "registry.py", "relay.py", "protocol.py",
              "limits.py", "origins.py", "paths.py", "counters.py", "keepalive.py", "namespace.py",
              "pattern.py", "client.py", "interfaces.py", "config.py", "errors.py", "idempotency.py",
              "broadcasts.py", "instance_stats.py", "feed.py", "tracker.py",
              "deflate.py", "sse.py", "client_tokens.py"]


def imported(path: Path, *, for_types_too: bool = False) -> set[str]:
    """Every module ``path`` imports at run time (``if TYPE_CHECKING:`` blocks excluded,
    unless ``for_types_too``)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                and not for_types_too):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names.update(alias.name for alias in inner.names)
            elif isinstance(inner, ast.ImportFrom):
                names.add("." * inner.level + (inner.module or ""))
    return names


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")
                                          if p.name not in ABOVE_THE_EXTENSION))
def test_no_module_below_the_extension_imports_it(module):
    assert ".extension" not in imported(PACKAGE / module)


@pytest.mark.parametrize("module", SANIC_FREE)
def test_the_core_modules_do_not_import_sanic(module):
    assert not any(name == "sanic" or name.startswith(("sanic.", "sanic_ext"))
                   for name in imported(PACKAGE / module))


def test_only_the_sanic_ext_glue_imports_sanic_ext():
    """sanic-ext is an optional extra (docs/sanic-ext.md): the core never needs it."""
    importers = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                       if any(name.split(".")[0] == "sanic_ext" for name in imported(path)))
    assert importers == ["extend.py"]


def test_the_python_client_needs_neither_sanic_nor_the_server_side():
    """``sanic_wsns.remote`` runs in services and bots that have no Sanic app: it may use
    the pure shared modules (``recovery``), never Sanic nor the server's machinery."""
    server_side = {"..extension", "..hub", "..connection", "..registry", "..broker", "..namespace"}
    for path in (PACKAGE / "remote").glob("*.py"):
        names = imported(path)
        assert not any(name == "sanic" or name.startswith("sanic.") for name in names), path.name
        assert not names & server_side, path.name


def test_the_interfaces_are_a_leaf():
    """``interfaces.py`` names no concrete class of the package, not even for types: any
    module may import it without a cycle (the value types of its signatures only)."""
    ours = {name for name in imported(PACKAGE / "interfaces.py", for_types_too=True)
            if name.startswith(".")}
    assert ours <= {".history", ".recovery"}


def test_the_broker_roles_are_a_leaf():
    """``broker/roles.py`` (pub/sub, history, presence, request keys) names no backend: the
    tracker and the request keys depend on a role, never on Redis or memory."""
    ours = {name for name in imported(PACKAGE / "broker" / "roles.py", for_types_too=True)
            if name.startswith(".")}
    assert ours <= {"..history", "..occupancy", "..presence", "..recovery"}
    for module in ("tracker.py", "idempotency.py"):
        names = imported(PACKAGE / module, for_types_too=True)
        assert not {".broker.redis", ".broker.memory", ".broker.base"} & names, module


@pytest.mark.parametrize("module", ["keepalive.py", "feed.py", "tracker.py", "pattern.py",
                                    "interfaces.py"])
def test_lower_modules_take_a_protocol_not_the_classes_above(module):
    """The keepalive sweep, the feed and presence take the methods of a client they call
    (``interfaces.KeptAlive``, ``Recipient``), a pattern broadcasts with its history
    settings: none names a client, a namespace or the hub, so no import cycle runs through
    them, not even one for types only."""
    above = {".client", ".namespace", ".hub", ".extension", ".connection"}
    assert not imported(PACKAGE / module, for_types_too=True) & above


#: Sanic's WebSocket internals (``WebsocketImplProtocol``'s and its connection's attributes
#: that no public API documents): named only by ``sanic_internals.py``, the one door, whose
#: unit test checks each of them against the installed Sanic.
SANIC_INTERNALS = {"io_proto", "keepalive_ping_task", "pings", "ws_proto", "max_message_size",
                   "assembler", "recv_cancel", "data_finished_fut", "auto_closer_task",
                   "pause_frames", "resume_frames", "fail_connection"}


def internals_named(path: Path) -> set[str]:
    """The Sanic internals ``path`` names as attributes, and ``ws.loop`` (Sanic's loop
    attribute on its WebSocket) written as such."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            if node.attr in SANIC_INTERNALS:
                named.add(node.attr)
            elif node.attr == "loop" and ast.unparse(node.value).endswith("ws"):
                named.add("ws.loop")
    return named


@pytest.mark.parametrize("module", sorted(path.relative_to(PACKAGE).as_posix()
                                          for path in PACKAGE.rglob("*.py")
                                          if path.name != "sanic_internals.py"))
def test_only_the_adapter_touches_sanics_websocket_internals(module):
    assert internals_named(PACKAGE / module) == set()


def test_the_adapter_is_where_the_internals_are():
    """The rule above reads the right names: the adapter names them all."""
    assert internals_named(PACKAGE / "sanic_internals.py") == SANIC_INTERNALS | {"ws.loop"}


@pytest.mark.parametrize("module", ["redis_topology.py", "redis_outbox.py", "redis_calls.py",
                                    "redis_history.py", "redis_presence.py", "redis_requests.py"])
def test_each_redis_role_stands_without_the_facade_and_the_other_jobs(module):
    """``RedisBroker`` (redis.py) is the façade over one module per job: none of them
    imports it, and the topology, the outbox and the calls do not import each other."""
    jobs = {".redis", ".redis_topology", ".redis_outbox", ".redis_calls"} - {"." + module[:-3]}
    assert not imported(PACKAGE / "broker" / module, for_types_too=True) & jobs
