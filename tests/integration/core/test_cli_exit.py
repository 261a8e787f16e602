"""A sanic-wsns configuration error stops the real ``sanic`` CLI with a non-zero status and
its one-line message, so systemd's ``Restart=on-failure`` and CI notice (the CLI catches a
``ValueError`` at app load, logs it and exits 0)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port

#: Bound on one CLI run that must stop by itself (import Sanic, load the app, refuse).
EXIT_TIMEOUT = 45.0

MISSPELT_BROKER = '''
from sanic import Sanic
from sanic_wsns import WsNamespaces

app = Sanic("misspelt_broker")
wsns = WsNamespaces(app, broker="redis:/127.0.0.1:6379/0")
'''

TYPE_CHECKING_ONLY = '''
from __future__ import annotations
from typing import TYPE_CHECKING
from sanic import Sanic
from sanic_wsns import WsNamespaces

if TYPE_CHECKING:
    from decimal import Context as Bid

app = Sanic("type_checking_only")
rooms = WsNamespaces(app).pattern("/ws/rooms/<room_id:int>")


@rooms.on("bid")
async def bid(ns, client, data: Bid): ...
'''


def run_cli(tmp_path: Path, source: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run ``sanic faulty_app:app`` on ``source`` until it exits by itself; a CLI that
    hangs instead (its workers included: a session of their own) is killed and fails."""
    (tmp_path / "faulty_app.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    args = [sys.executable, "-m", "sanic", "faulty_app:app", "--host", "127.0.0.1",
            "--port", str(free_port()), "--no-motd", *flags]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as cli:
        try:
            stdout, stderr = cli.communicate(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.communicate()
            pytest.fail(f"the sanic CLI did not exit within {EXIT_TIMEOUT:.0f} s")
    return subprocess.CompletedProcess(args, cli.returncode, stdout, stderr)


def said(done: subprocess.CompletedProcess[str]) -> str:
    """What the CLI wrote, with the wrapping of Sanic's traceback printer (a ``▐`` line per
    continuation) undone, so a message reads as the one line it is."""
    return re.sub(r"\s*\n\s*▐\s*", " ", done.stdout + done.stderr)


def test_a_misspelt_broker_url_makes_the_cli_exit_non_zero(tmp_path):
    done = run_cli(tmp_path, MISSPELT_BROKER)
    assert done.returncode != 0
    assert "ConfigError: invalid broker URL 'redis:/127.0.0.1:6379/0': expected two slashes" in said(done)


@pytest.mark.parametrize("flags", [(), ("--single-process",)])
def test_an_unresolvable_data_type_makes_the_cli_exit_non_zero_before_any_worker(tmp_path, flags):
    done = run_cli(tmp_path, TYPE_CHECKING_ONLY, *flags)
    assert done.returncode != 0
    assert "cannot resolve the annotation data: Bid" in said(done)
    assert "Not all workers acknowledged" not in said(done)
