"""The examples run as a user runs them: ``sanic examples.NAME:app`` in a subprocess (the
real Sanic CLI, its worker processes included), stopped with SIGTERM like Ctrl-C.

A start costs seconds, so the tests of one example share a server (``quickstart``,
``token_auth``, ``rest_broadcast``: one per module); ``sanic_cli`` starts one for a single
test (other flags, a Redis of its own)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from e2e.server_process import ServerProcess

#: Bound on the CLI's start-up: importing Sanic and sanic-ext in each worker takes seconds
#: on a busy 2-core machine.
START_TIMEOUT = 60.0


@dataclass
class ExampleServer:
    """A running example. It has the ``http`` and ``ws`` of ``tests.support.servers.RunningServer``,
    which is all the helpers of ``tests.support`` use of one."""

    process: ServerProcess
    #: Where this run's output starts in the log (a log file is appended to, port by port).
    log_start: int

    @property
    def http(self) -> str:
        return self.process.url

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.process.port}{path}"

    def workers_ready(self) -> int:
        """Worker processes that are serving (Sanic logs "Worker ready" for each). The page
        answers as soon as one is; a test that needs them all waits for this count."""
        with open(self.process.log_path, "rb") as log:
            log.seek(self.log_start)
            return log.read().count(b"Worker ready")


@contextmanager
def examples_cli() -> Iterator[Callable[..., ExampleServer]]:
    """``start("examples.quickstart:app", "--workers", "2", env={...})`` runs the CLI and
    returns once the example's page answers; every server started is stopped on exit."""
    started: list[ServerProcess] = []

    def start(target: str, *flags: str, env: dict[str, str] | None = None) -> ExampleServer:
        name = target.split(":")[0].rsplit(".", 1)[-1]
        process = ServerProcess([sys.executable, "-m", "sanic", target, "--host", "127.0.0.1",
                                 "--port", "{port}", "--no-motd", *flags], env=env, name=f"example-{name}")
        started.append(process)
        log_start = process.log_path.stat().st_size if process.log_path.exists() else 0
        return ExampleServer(process.start(timeout=START_TIMEOUT), log_start)

    try:
        yield start
    finally:
        for process in started:
            process.stop()  # SIGTERM: the main process stops its workers too


@pytest.fixture
def sanic_cli() -> Iterator[Callable[..., ExampleServer]]:
    with examples_cli() as start:
        yield start


@pytest.fixture(scope="module")
def shared_cli() -> Iterator[Callable[..., ExampleServer]]:
    with examples_cli() as start:
        yield start


@pytest.fixture(scope="module")
def quickstart(shared_cli) -> ExampleServer:
    return shared_cli("examples.quickstart:app")


#: The signing key the shared token_auth server uses, so that a test can sign a token too.
TOKEN_SECRET = "example-test-secret"


@pytest.fixture(scope="module")
def token_auth(shared_cli) -> ExampleServer:
    return shared_cli("examples.token_auth:app", env={"SANIC_TOKEN_SECRET": TOKEN_SECRET})


@pytest.fixture(scope="module")
def rest_broadcast(shared_cli) -> ExampleServer:
    return shared_cli("examples.rest_broadcast:app")
