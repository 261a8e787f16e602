"""The one process launcher of the repository: servers as child processes on a port, for tests,
e2e, bench and the examples' tests.

A ``ServerProcess`` is started, waited for until it answers (``ready``), and then stopped
(SIGTERM), killed (SIGKILL), frozen (SIGSTOP) or thawed (SIGCONT) by its own pid and process
group; it can start again on the same port. Nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.polling import wait_until
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
#: Where e2e keeps what a failure leaves to read (logs, screenshots); ignored by git.
ARTIFACTS = ROOT / "e2e" / "artifacts"


def accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def answers_http(path: str) -> Callable[[int], bool]:
    """A readiness check: ``GET path`` answers with a success."""

    def answers(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    return answers


class ServerProcess:
    """A server subprocess on a fixed port: ``argv`` may contain ``{port}``.

    ``start`` returns once ``ready(port)`` is true (by default ``GET ready_path`` answers);
    ``kill``/``stop`` end it (the port stays the same for the next ``start``);
    ``freeze``/``thaw`` SIGSTOP/SIGCONT it. Output goes to ``log_dir/name-port.log``
    (appended to, start after start: ``log_since_start`` reads this run's), shown when the
    server fails to start; ``log_dir=None`` drops it.
    """

    def __init__(self, argv: Sequence[str], *, port: int | None = None, ready_path: str = "/",
                 ready: Callable[[int], bool] | None = None, env: dict[str, str] | None = None,
                 name: str = "server", log_dir: Path | None = ARTIFACTS):
        self.port = port or free_port()
        self.argv = [part.format(port=self.port) for part in argv]
        self.ready = ready or answers_http(ready_path)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.name = name
        self.log_path = None if log_dir is None else log_dir / f"{name}-{self.port}.log"
        self.log_start = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        """``url``, under the name ``tests.support.servers.RunningServer`` gives it, so the
        helpers of ``tests.support`` take either."""
        return self.url

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> ServerProcess:
        """Start the process without waiting for it to answer (``wait_ready`` does)."""
        assert self.ended(), f"{self.name} is already running"
        if self.log_path is None:
            output = subprocess.DEVNULL
        else:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            output = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it open)
        # A session of its own: on the way out its whole process group goes, so a server
        # with worker processes (sanic --workers N) leaves no orphan behind.
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=output, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        if output != subprocess.DEVNULL:
            output.close()
        return self

    def wait_ready(self, timeout: float = 15.0) -> ServerProcess:
        """Return once the process answers; kill it and raise (with its log's tail) if it
        exits or does not answer within ``timeout`` seconds."""
        try:
            wait_until(self._answers, timeout, f"{self.name} on port {self.port} ready", interval=0.05)
        except AssertionError as error:
            self.kill()
            raise RuntimeError(f"{error}:\n{self.log_tail()}") from None
        return self

    def start(self, timeout: float = 15.0) -> ServerProcess:
        return self.spawn().wait_ready(timeout)

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
        return self.ready(self.port)

    def kill(self) -> None:
        """SIGKILL: no close frames, clients see 1006."""
        self._end(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """A graceful shutdown (SIGTERM: clients see 1001), waited for; ``sig`` for a server
        that shuts down on another signal (PostgreSQL's fast shutdown is SIGINT)."""
        self._end(sig)

    def terminate(self) -> None:
        """SIGTERM without waiting: the graceful shutdown runs while the caller goes on
        (a rolling deploy acts during it); ``ended`` tells when it is over, ``stop`` reaps."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def ended(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _end(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_since_start(self) -> bytes:
        """What the process wrote since its last ``start`` (empty without a log)."""
        if self.log_path is None or not self.log_path.exists():
            return b""
        with open(self.log_path, "rb") as log:
            log.seek(self.log_start)
            return log.read()

    def workers_ready(self) -> int:
        """Sanic worker processes serving since the last ``start`` (Sanic logs "Worker ready"
        for each): the first answers before the others listen; a test that needs them all
        waits for this count."""
        return self.log_since_start().count(b"Worker ready")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None:
            return "(no log kept)"
        return "\n".join(self.log_since_start().decode(errors="replace").splitlines()[-lines:])


@contextmanager
def spawner(end: Callable[[ServerProcess], None] = ServerProcess.kill,
            ) -> Iterator[Callable[..., ServerProcess]]:
    """A factory of ``ServerProcess`` (not started); each one made is ended on exit (killed,
    unless ``end`` says otherwise: ``ServerProcess.stop`` for a graceful SIGTERM)."""
    made: list[ServerProcess] = []

    def make(*args: Any, **kwargs: Any) -> ServerProcess:
        server = ServerProcess(*args, **kwargs)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            end(server)
