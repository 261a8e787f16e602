"""What an idle bubblemap instance spends on CPU while it holds signed-in WebSockets.

Written to measure what the per-second sign-out sweep cost (each instance asked the
database every second which of its clients' sessions were gone) against sign-out calling
``wsns.disconnect(user=...)`` (nothing runs while nobody signs out): run it once on the
code before and once on the code after, and compare (bench/BENCHMARKS.md).

    python -m bench.revocation_cpu --code /path/to/checkout [--sessions 200] [--sockets 1000]

``--code`` is the checkout whose ``demo_app`` and ``sanic_wsns`` the instance runs. The
sessions are written straight into the database (sign-in is rate-limited per address,
as it should be), each of another account, and the sockets are spread over them on the
public map list (a namespace that sends nothing while idle). Then the instance's
``/proc/<pid>/stat`` CPU time is read over ``--seconds``.

Measured 2026-12-07 on the 2-core shared machine (60 s windows, runs interleaved; CPU
seconds the idle instance spent, sweep -> disconnect):

- 2000 sessions of 2000 accounts, one socket each: 0.67 and 0.74 -> 0.57 and 0.59 s per
  minute (1.2% -> 1.0% of a core): the sweep cost about 0.12 s a minute, 2 ms a round,
  growing with the sessions an instance holds sockets of.
- 200 sessions, 1000 sockets: 0.33 -> 0.32 s per minute (within the noise).

The rest of an idle instance's CPU (keepalive pings, the admin report every 2 s, the
outbox relay's sweeps) is in both runs. The sweep's real cost was less its CPU than its
latency floor (a sign-out reached sockets up to a second late) and its one query a second
per instance whether or not anybody signed out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from bench.procstat import cpu_times
from demo_app.sessions import Sessions
from tests.support.ports import free_port

SECRET = "bench-secret"


def serving(port: int) -> bool:
    """Whether the demo answers (its database is open once it does)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/1/session", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def add_sessions(db: Path, count: int) -> list[str]:
    """``count`` sessions of as many accounts, written into the instance's database."""
    ids = [secrets.token_urlsafe(32) for _ in range(count)]
    with sqlite3.connect(db, timeout=30) as conn:
        now = time.time()
        conn.executemany("INSERT INTO users (key, name, password, created) VALUES (?, ?, 'x', ?)",
                         [(f"u{i}", f"u{i}", now) for i in range(count)])
        conn.executemany("INSERT INTO sessions (id, user_key, created) VALUES (?, ?, ?)",
                         [(sid, f"u{i}", now) for i, sid in enumerate(ids)])
    return ids


async def open_sockets(port: int, cookies: list[str], count: int) -> list[ClientConnection]:
    """``count`` sockets on the public map list, dealt round-robin over ``cookies``."""
    url = f"ws://127.0.0.1:{port}/api/1/ws/maps/public"
    sockets = []
    for i in range(count):
        ws = await connect(url, additional_headers={"Cookie": f"session={cookies[i % len(cookies)]}"},
                           open_timeout=30, max_queue=None)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert welcome["type"] == "welcome", welcome
        sockets.append(ws)
    return sockets


async def measure(pid: int, port: int, cookies: list[str], sockets: int, seconds: float) -> dict[str, float]:
    held = await open_sockets(port, cookies, sockets)
    try:
        await asyncio.sleep(5)  # let connecting settle before the window starts
        before = sum(cpu_times(pid))
        await asyncio.sleep(seconds)
        spent = sum(cpu_times(pid)) - before
        open_now = sum(ws.close_code is None for ws in held)
    finally:
        await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    return {"cpu_s": round(spent, 3), "cpu_percent": round(100 * spent / seconds, 3),
            "seconds": seconds, "sockets_open_at_end": open_now}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", type=Path, required=True, help="checkout whose demo_app runs")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "bench.sqlite", free_port()
        env = {**os.environ, "PYTHONPATH": str(args.code.resolve())}
        with open(Path(tmp) / "server.log", "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "demo_app", "--port", str(port), "--db", str(db), "--secret", SECRET],
                cwd=args.code, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not serving(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the demo did not start: {(Path(tmp) / 'server.log').read_text()}")
                time.sleep(0.1)
            signer = Sessions(SECRET, store=None)  # type: ignore[arg-type]  # only signs
            cookies = [signer.token(sid) for sid in add_sessions(db, args.sessions)]
            result = asyncio.run(measure(server.pid, port, cookies, args.sockets, args.seconds))
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    print(json.dumps({"code": str(args.code), "sessions": args.sessions, "sockets": args.sockets, **result}))


if __name__ == "__main__":
    main()
