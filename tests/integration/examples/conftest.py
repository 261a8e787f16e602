"""The examples run as a user runs them: ``sanic examples.NAME:app`` in a subprocess (the
real Sanic CLI, its worker processes included), stopped with SIGTERM like Ctrl-C.

A start costs seconds, so the tests of one example share a server (``quickstart``,
``token_auth``, ``rest_broadcast``: one per module); ``sanic_cli`` starts one for a single
test (other flags, a Redis of its own)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.support.processes import ServerProcess, spawner

#: Bound on the CLI's start-up: importing Sanic and sanic-ext in each worker takes seconds
#: on a busy 2-core machine.
START_TIMEOUT = 60.0


@contextmanager
def examples_cli() -> Iterator[Callable[..., ServerProcess]]:
    """``start("examples.quickstart:app", "--workers", "2", env={...})`` runs the CLI and
    returns once the example's page answers; every server started is stopped on exit
    (SIGTERM: the main process stops its workers too)."""
    with spawner(end=ServerProcess.stop) as make:

        def start(target: str, *flags: str, env: dict[str, str] | None = None) -> ServerProcess:
            name = target.split(":")[0].rsplit(".", 1)[-1]
            return make([sys.executable, "-m", "sanic", target, "--host", "127.0.0.1",
                         "--port", "{port}", "--no-motd", *flags],
                        env=env, name=f"example-{name}").start(timeout=START_TIMEOUT)

        yield start


@pytest.fixture
def sanic_cli() -> Iterator[Callable[..., ServerProcess]]:
    with examples_cli() as start:
        yield start


@pytest.fixture(scope="module")
def shared_cli() -> Iterator[Callable[..., ServerProcess]]:
    with examples_cli() as start:
        yield start


@pytest.fixture(scope="module")
def quickstart(shared_cli) -> ServerProcess:
    return shared_cli("examples.quickstart:app")


#: The signing key the shared token_auth server uses, so that a test can sign a token too.
TOKEN_SECRET = "example-test-secret"


@pytest.fixture(scope="module")
def token_auth(shared_cli) -> ServerProcess:
    return shared_cli("examples.token_auth:app", env={"SANIC_TOKEN_SECRET": TOKEN_SECRET})


@pytest.fixture(scope="module")
def rest_broadcast(shared_cli) -> ServerProcess:
    return shared_cli("examples.rest_broadcast:app")
