"""The package's layering, read from its imports: the rules are the last column of the
architecture table in docs/concepts.md (module → job → what it may import), which this
test reads, so the table and the code cannot disagree; every module of the package has a
row. Besides: the extension is the only Sanic adapter above everything else, and only
``sanic_internals.py`` touches Sanic's WebSocket internals."""

import ast
import re
from pathlib import Path

import pytest

import sanic_wsns

PACKAGE = Path(sanic_wsns.__file__).parent
ARCHITECTURE = PACKAGE.parent / "docs" / "concepts.md"
#: Modules allowed to import the extension: the package's front door and sanic-ext glue.
ABOVE_THE_EXTENSION = {"__init__.py", "extend.py", "extension.py"}
#: Whether a module may import Sanic: each row states exactly one of these.
SANIC_CLAUSES = {"Sanic", "no Sanic", "Sanic's WebSocket internals"}


def architecture() -> dict[str, list[str]]:
    """Module path (from ``sanic_wsns/``) → the rules of its row (the last column, split
    at ``;``)."""
    text = ARCHITECTURE.read_text()
    section = text[text.index("\n## Architecture\n"):]
    following = section.find("\n## ", 1)
    rows: dict[str, list[str]] = {}
    for line in section[:following if following > 0 else None].splitlines():
        if not line.startswith("| `"):
            continue
        modules, _job, rule = (cell.strip() for cell in line.strip().strip("|").split("|"))
        for module in re.findall(r"`([^`]+)`", modules):
            assert module not in rows, f"{module} has two rows"
            rows[module] = [clause.strip() for clause in rule.split(";")]
    return rows


ROWS = architecture()


def modules_ruled(clause: str) -> list[str]:
    return sorted(module for module, clauses in ROWS.items() if clause in clauses)


def modules_listed(prefix: str) -> list[tuple[str, set[str]]]:
    """The rows with an ``only `a.py`, ...`` (or ``not ...``) rule, and the modules it names."""
    return sorted((module, set(re.findall(r"`([^`]+)`", clause)))
                  for module, clauses in ROWS.items() for clause in clauses
                  if clause.startswith(prefix + " `"))


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


def package_imports(module: str) -> set[str]:
    """The package modules ``module`` imports, type-only imports included, as paths from
    ``sanic_wsns/`` (``broker/redis.py``; a package as its ``__init__.py``)."""
    folder = module.split("/")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / module).read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = folder[:len(folder) - (node.level - 1)] + (node.module or "").split(".")
        names = [alias.name for alias in node.names] if node.module is None else [""]
        for name in names:
            found.add(_module_at([part for part in [*base, name] if part]))
    return found


def _module_at(parts: list[str]) -> str:
    """The module file of a dotted import (``from . import name``: the package's own
    ``__init__.py`` when ``name`` is not a module of it)."""
    path = "/".join(parts)
    if (PACKAGE / (path + ".py")).is_file():
        return path + ".py"
    if (PACKAGE / path / "__init__.py").is_file():
        return (path + "/" if path else "") + "__init__.py"
    return _module_at(parts[:-1])


def test_every_module_has_a_row_in_the_architecture_table_and_every_row_a_module():
    modules = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")}
    assert sorted(modules - ROWS.keys()) == [], "add these modules to docs/concepts.md#architecture"
    assert sorted(ROWS.keys() - modules) == [], "these rows name no module"


@pytest.mark.parametrize("module", sorted(ROWS))
def test_each_row_says_whether_its_module_may_import_sanic_in_words_this_test_reads(module):
    clauses = ROWS[module]
    assert len(SANIC_CLAUSES & set(clauses)) == 1, clauses
    for clause in clauses:
        assert clause in SANIC_CLAUSES | {"sanic-ext"} or clause.startswith(("only `", "not `")), clause


@pytest.mark.parametrize("module", modules_ruled("no Sanic"))
def test_the_modules_the_table_keeps_free_of_sanic_do_not_import_it(module):
    assert not any(name == "sanic" or name.startswith(("sanic.", "sanic_ext"))
                   for name in imported(PACKAGE / module))


def test_only_the_modules_the_table_allows_import_sanic_ext():
    """sanic-ext is an optional extra (docs/sanic-ext.md): the core never needs it."""
    importers = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                       if any(name.split(".")[0] == "sanic_ext" for name in imported(path)))
    assert importers == modules_ruled("sanic-ext") == ["extend.py"]


@pytest.mark.parametrize(("module", "allowed"), modules_listed("only"))
def test_a_leaf_imports_only_what_its_row_names(module, allowed):
    """``interfaces.py`` and ``broker/roles.py`` name no concrete class, not even for types:
    any module may import them without a cycle."""
    assert package_imports(module) <= allowed


@pytest.mark.parametrize(("module", "forbidden"), modules_listed("not"))
def test_a_module_imports_nothing_its_row_forbids(module, forbidden):
    """Lower modules take a protocol, not the classes above (no import cycle runs through
    them, not even one for types); the presence tracker and the request keys take a broker
    role, never a backend; each Redis job stands without the façade and the other jobs;
    the Python client needs none of the server side."""
    assert not package_imports(module) & forbidden


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")
                                          if p.name not in ABOVE_THE_EXTENSION))
def test_no_module_below_the_extension_imports_it(module):
    assert ".extension" not in imported(PACKAGE / module)


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


#: The one door: the modules whose row allows Sanic's WebSocket internals.
DOORS = modules_ruled("Sanic's WebSocket internals")


@pytest.mark.parametrize("module", sorted(path.relative_to(PACKAGE).as_posix()
                                          for path in PACKAGE.rglob("*.py")
                                          if path.relative_to(PACKAGE).as_posix() not in DOORS))
def test_only_the_adapter_touches_sanics_websocket_internals(module):
    assert internals_named(PACKAGE / module) == set()


def test_the_adapter_is_where_the_internals_are():
    """One door, and the rule above reads the right names: the adapter names them all."""
    assert DOORS == ["sanic_internals.py"]
    assert internals_named(PACKAGE / "sanic_internals.py") == SANIC_INTERNALS | {"ws.loop"}
