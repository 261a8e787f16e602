"""One test instance (``instances.build``) as its own process, for faults a process in the
test's loop cannot suffer: ``kill -9``.

``python -m tests.support.instance_process --port P --broker URL [--presence-ttl S]
[--outbox DB_URL]`` serves the same app ``instances`` builds, with history and presence on;
with ``--outbox`` it runs an outbox relay on that database too
(tests.support.outbox_databases.relay), its claimer named ``outbox_claimer(port)``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

from sanic_wsns.outbox.listeners import run_relay
from tests.support.ports import free_port


def outbox_claimer(port: int) -> str:
    return f"process-{port}"


ROOT = Path(__file__).resolve().parents[2]


class InstanceProcess:
    def __init__(self, broker: str, presence_ttl: float = 60.0, outbox: str | None = None):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.instance_process", "--port", str(self.port),
             "--broker", broker, "--presence-ttl", str(presence_ttl),
             *(["--outbox", outbox] if outbox else [])],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"test instance on port {self.port} did not start")
            time.sleep(0.05)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def ws(self, map_id: str, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/maps/{map_id}" + (f"?{query}" if query else "")

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone, its presence entries stay until they expire."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--presence-ttl", type=float, default=60.0)
    parser.add_argument("--outbox")
    args = parser.parse_args()
    from tests.support.instances import build

    wsns = build(args.broker, history=True, presence=True, presence_ttl=args.presence_ttl)
    if args.outbox:
        from tests.support.outbox_databases import relay

        run_relay(wsns.app, relay(wsns, args.outbox, outbox_claimer(args.port))[0])
    wsns.app.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False,
                 motd=False)


if __name__ == "__main__":
    main()
