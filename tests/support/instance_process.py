"""One test instance (``instances.build``) as its own process, for faults a process in the
test's loop cannot suffer: ``kill -9``.

``python -m tests.support.instance_process --port P --broker URL [--presence-ttl S]
[--outbox DB_URL]`` serves the same app ``instances`` builds, with history and presence on;
with ``--outbox`` it runs an outbox relay on that database too
(tests.support.outbox_databases.relay), its claimer named ``outbox_claimer(port)``.
"""

from __future__ import annotations

import argparse
import sys

from sanic_wsns.outbox.listeners import run_relay
from tests.support.processes import ServerProcess, accepts


def outbox_claimer(port: int) -> str:
    return f"process-{port}"


class InstanceProcess:
    """This module's app, started (and answering) on a free port."""

    def __init__(self, broker: str, presence_ttl: float = 60.0, outbox: str | None = None):
        self.server = ServerProcess(
            [sys.executable, "-m", "tests.support.instance_process", "--port", "{port}",
             "--broker", broker, "--presence-ttl", str(presence_ttl),
             *(["--outbox", outbox] if outbox else [])],
            ready=accepts, name="test-instance", log_dir=None).start(timeout=30)
        self.port = self.server.port

    def ws(self, map_id: str, query: str = "") -> str:
        return self.server.ws(f"/maps/{map_id}" + (f"?{query}" if query else ""))

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone, its presence entries stay until they expire."""
        self.server.kill()


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
