"""What a ``pip install sanic-wsns`` user gets: the built wheel, not this checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from this checkout, once for the module."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(ROOT)],
                   check=True, timeout=300)
    [built] = folder.glob("sanic_wsns-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_the_wheel_ships_its_type_marker_and_the_browser_client_types(wheel):
    names = set(wheel.namelist())
    # PEP 561: without it, mypy treats the package as untyped ("missing py.typed marker").
    assert "sanic_wsns/py.typed" in names
    # A symlink in the checkout; the wheel must hold the file itself.
    assert wheel.read("sanic_wsns/static/wsns.d.ts") == (ROOT / "js-client" / "wsns.d.ts").read_bytes()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def metadata_of(wheel) -> Message:
    [metadata_name] = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(metadata_name).decode())


def test_sanic_ext_comes_only_with_the_ext_extra(wheel):
    """Once importable, sanic-ext extends every Sanic app (docs/sanic-ext.md): installing
    sanic-wsns alone must not bring it, nor pydantic, which only sanic-ext needs."""
    metadata = metadata_of(wheel)
    requires = [Requirement(line) for line in metadata.get_all("Requires-Dist")]

    def needed(extra: str | None) -> set[str]:
        return {req.name for req in requires
                if (req.marker.evaluate({"extra": extra or ""}) if req.marker else extra is None)}

    assert {"sanic-ext", "pydantic"}.isdisjoint(needed(None)), needed(None)
    assert {"sanic-ext", "pydantic"} <= needed("ext")
    assert "ext" in metadata.get_all("Provides-Extra")


def test_redis_comes_with_its_c_reply_parser(wheel):
    """redis-py parses replies in Python unless hiredis is installed; a history read of 50
    frames then costs five times the CPU (docs/redis.md), so the plain install brings it."""
    requires = [Requirement(line) for line in metadata_of(wheel).get_all("Requires-Dist")]
    [redis] = [req for req in requires if req.name == "redis" and req.marker is None]
    assert "hiredis" in redis.extras
