"""What a ``pip install sanic-wsns`` user gets: the built wheel, not this checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_its_type_marker_and_the_browser_client_types(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, timeout=300)
    [wheel] = tmp_path.glob("sanic_wsns-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        # PEP 561: without it, mypy treats the package as untyped ("missing py.typed marker").
        assert "sanic_wsns/py.typed" in names
        # A symlink in the checkout; the wheel must hold the file itself.
        assert archive.read("sanic_wsns/static/wsns.d.ts") == (ROOT / "js-client" / "wsns.d.ts").read_bytes()
        assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
