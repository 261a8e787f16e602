"""Real server processes for E2E tests: on a free port, waited for until they answer over
HTTP, and then killed, restarted on the same port, frozen (SIGSTOP) or thawed (SIGCONT)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


class ServerProcess:
    """A server subprocess on a fixed port: ``argv`` may contain ``{port}``.

    ``start`` returns once ``ready_path`` answers over HTTP; ``kill``/``stop`` end it (the
    port stays the same for the next ``start``); ``freeze``/``thaw`` SIGSTOP/SIGCONT it.
    Output goes to a log file under e2e/artifacts/, shown when the server fails to start.
    """

    def __init__(self, argv: Sequence[str], *, port: int | None = None, ready_path: str = "/",
                 env: dict[str, str] | None = None, name: str = "server"):
        self.port = port or free_port()
        self.argv = [part.format(port=self.port) for part in argv]
        self.ready_path = ready_path
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> ServerProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open by the child)
        # A session of its own: on the way out its whole process group goes, so a server
        # with worker processes (sanic --workers N) leaves no orphan behind.
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"server not ready within {timeout}s:\n{self._log_tail()}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no close frames, clients see 1006."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown (clients see 1001)."""
        self._end(signal.SIGTERM)

    def terminate(self) -> None:
        """SIGTERM without waiting: the graceful shutdown runs while the caller goes on
        (a rolling deploy acts during it); ``ended`` tells when it is over, ``stop`` reaps."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def ended(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def _end(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])


@contextmanager
def spawner() -> Iterator[Callable[..., ServerProcess]]:
    made: list[ServerProcess] = []

    def make(*args: Any, **kwargs: Any) -> ServerProcess:
        server = ServerProcess(*args, **kwargs)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.kill()
