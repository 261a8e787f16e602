"""A real PostgreSQL server for tests (Debian's ``postgresql`` package), one per test
session, each test in a database of its own.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres``
user the package creates, on a temp data dir it owns; the server listens on 127.0.0.1 on a
free port, with its socket in that dir. Durability is off (``fsync``): the tests crash
instances, never the server.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import ServerProcess


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server: apt-get install -y postgresql (.ci/run does)")
    return Path(found[-1]).parent


def _as_server_user() -> list[str]:
    """How to run a command as a user the server accepts: ourselves unless we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PostgresServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wsns-postgres-"))
        bin_dir = _binaries()
        self.server = ServerProcess(
            [*_as_server_user(), str(bin_dir / "postgres"), "-D", str(self.dir / "data"), "-p", "{port}",
             "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            ready=self._accepts, name="postgres", log_dir=None)
        self.port = self.server.port
        self._names = itertools.count()

    def start(self, timeout: float = 60.0) -> PostgresServer:
        bin_dir, as_user = _binaries(), _as_server_user()
        if as_user:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        data = self.dir / "data"
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=timeout)
        try:
            self.server.start(timeout)
        except RuntimeError:
            self.close()
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _accepts(self, port: int) -> bool:
        try:
            psycopg.connect(self.url(), connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def new_database(self) -> str:
        """A fresh empty database's URL."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        self.server.stop(signal.SIGINT)  # a "fast" shutdown: clients are cut
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the test session."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh database on the session's server, for one test."""
    return postgres_server.new_database()
