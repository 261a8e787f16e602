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
              "deflate.py", "sse.py", "client_tokens.py"]


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports at run time (``if TYPE_CHECKING:`` blocks excluded)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
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
