"""docs/settings.md is the one table of settings: it must name every field of ``Settings``
with its config key and its real default."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import msgspec

from sanic_wsns import Settings

TABLE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def documented_rows() -> dict[str, tuple[str, str]]:
    """setting name -> (config key, default) from the table's rows."""
    rows = re.findall(r"^\| `(\w+)` \| `(WSNS_\w+)` \| `([^`]*)`", TABLE.read_text(), flags=re.MULTILINE)
    return {name: (key, default) for name, key, default in rows}


def test_every_setting_has_a_row_with_its_config_key():
    rows = documented_rows()
    missing = sorted(set(Settings.__struct_fields__) - set(rows))
    assert not missing, f"add a row to docs/settings.md for: {missing}"
    assert sorted(set(rows) - set(Settings.__struct_fields__)) == []
    assert all(key == f"WSNS_{name.upper()}" for name, (key, _) in rows.items())


def as_value(documented: str) -> object:
    """A default as the table writes it: a Python literal (``1.0``, ``False``, ``None``,
    ``[]``, ``""``), else a bare string (``memory://``)."""
    try:
        return ast.literal_eval(documented)
    except (ValueError, SyntaxError):
        return documented


def test_every_documented_default_is_the_real_one():
    defaults = msgspec.structs.asdict(Settings())
    for name, (_, documented) in documented_rows().items():
        real = defaults[name]
        assert as_value(documented) == real, f"{name}: docs say {documented}, Settings says {real!r}"
