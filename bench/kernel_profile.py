# ruff: noqa: RUF001  (the report is typeset: en dashes, multiplication signs)
"""Where one broadcast at a time goes below Python (issue 28 goal 3): ``perf`` samples of
the server through the scale curve's broadcast stage, each sample put in one bucket by
what its stack was doing.

Why it exists: sent one broadcast at a time, a delivery costs about 10 µs of the server's
CPU, three quarters of it system time, with one ``write()`` per client per broadcast
(``bench/SCALE.md``). py-spy bills a syscall to the Python line that made it; perf shows
what the kernel did inside it. On loopback the kernel runs the receiving socket's TCP
input, and wakes its reader, inside the sender's ``send()`` (a softirq on the way out of
``__dev_queue_xmit``): work that a real network moves to the client's host. The buckets
tell that apart from the send path proper, from reads, from epoll and from user space.

``python -m bench.kernel_profile [--quick]`` runs it alone; ``bench.run`` runs it as the
section ``kernel``. Needs ``perf`` (Debian: ``linux-perf``) and the right to profile the
server (root, or ``kernel.perf_event_paranoid`` ≤ 1).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.servers import ROOT

RESULTS = ROOT / "bench" / "results"

#: A sample's bucket: the first whose kernel functions appear in its stack (checked in
#: this order: the loopback receive runs inside a send, so it is looked for first).
KERNEL_BUCKETS: tuple[tuple[str, frozenset[str]], ...] = (
    ("loopback receive: the client's TCP input and wake-up, run inside our send()",
     frozenset({"net_rx_action", "process_backlog", "__netif_receive_skb_one_core", "tcp_v4_rcv"})),
    ("send path: copy, segment, transmit",
     frozenset({"tcp_sendmsg", "tcp_sendmsg_locked", "__sys_sendto", "__x64_sys_sendto", "__x64_sys_write",
                "__x64_sys_writev", "ksys_write", "do_writev", "sock_write_iter"})),
    ("read path", frozenset({"tcp_recvmsg", "__x64_sys_read", "__x64_sys_recvfrom", "ksys_read",
                             "sock_read_iter"})),
    ("epoll", frozenset({"do_epoll_wait", "ep_poll", "__x64_sys_epoll_wait", "__x64_sys_epoll_pwait"})),
    ("scheduler: switched out and back in", frozenset({"__schedule", "finish_task_switch.isra.0",
                                                       "finish_task_switch"})),
)
OTHER_KERNEL = "other kernel work"
#: User-space samples, by the shared object of their innermost frame.
USER_BUCKETS = (("uvloop (C)", "loop.cpython"),
                ("Python interpreter (our code, Sanic, websockets)", "python"),
                ("libc", "libc"))
OTHER_USER = "other user space"
#: Goal 3: one broadcast at a time, at most this CPU per delivery (µs) at 19k connections.
GOAL_US = 6.0
#: Inside the loopback receive: the reader's socket says it has data (its epoll wakes the
#: reader from there); its share is reported as well.
WAKE_UP = "sock_def_readable"


def is_kernel(address: str) -> bool:
    """Kernel text lives in the top half of the address space (``ffff…``)."""
    return len(address) == 16 and address.startswith("ffff")


def samples(script: Iterable[str]) -> Iterator[list[tuple[str, str, str]]]:
    """``perf script -F ip,sym,dso`` output, one sample at a time: its frames, innermost
    first, as (address, function, shared object)."""
    frames: list[tuple[str, str, str]] = []
    for line in script:
        parts = line.split()
        if not parts:
            if frames:
                yield frames
            frames = []
            continue
        address, function = parts[0], parts[1] if len(parts) > 1 else "[unknown]"
        dso = parts[-1].strip("()") if len(parts) > 2 else ""
        frames.append((address, function, dso))
    if frames:
        yield frames


def bucket_of(frames: list[tuple[str, str, str]]) -> str:
    address, _function, dso = frames[0]
    if not is_kernel(address):
        return next((name for name, part in USER_BUCKETS if part in dso), OTHER_USER)
    functions = {function for _address, function, _dso in frames}
    return next((name for name, marks in KERNEL_BUCKETS if functions & marks), OTHER_KERNEL)


def buckets(script: Iterable[str]) -> dict[str, Any]:
    """Each bucket's share of the samples, and the share spent waking a reader."""
    counts: collections.Counter[str] = collections.Counter()
    woken = 0
    for frames in samples(script):
        counts[bucket_of(frames)] += 1
        woken += any(function == WAKE_UP for _address, function, _dso in frames)
    total = sum(counts.values())
    shares = {name: n / total for name, n in counts.most_common()} if total else {}
    return {"samples": total, "shares": shares, "wake_up_share": woken / total if total else None}


def start_perf(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """``perf record`` of ``pid`` with call stacks, until it gets SIGINT (``stop_perf``)."""
    perf = subprocess.Popen(["perf", "record", "-g", "-F", "999", "-o", str(out), "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # perf attaches before the stage starts (a bound, not a synchronisation)
    if perf.poll() is not None:
        said = perf.stderr.read().decode().strip()[-300:] if perf.stderr else ""
        raise RuntimeError(f"perf record failed: {said}")
    return perf


def stop_perf(perf: subprocess.Popen[bytes]) -> None:
    perf.send_signal(signal.SIGINT)
    perf.wait(60)


def read_samples(data: Path) -> dict[str, Any]:
    done = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym,dso"], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"perf script failed: {done.stderr.strip()[-300:]}")
    return buckets(done.stdout.splitlines())


# -- the section of bench.run -----------------------------------------------------------------


def run_section(quick: bool) -> dict[str, Any]:
    """The scale curve's largest one-instance, 10-namespace step again, perf on the server
    through its broadcast stage."""
    from bench.scale import FULL, QUICK, run_step

    if shutil.which("perf") is None:
        return {"skipped": "perf is not installed (Debian: linux-perf)"}
    step = max((s for s in (QUICK if quick else FULL) if s.curve == "connections" and s.namespaces == 10),
               key=lambda s: s.connections)
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = RESULTS / "perf-scale.data"
    try:
        figures = run_step(step, perf=data)
        profile = read_samples(data)
    except RuntimeError as exc:
        return {"step": step.label, "error": str(exc)}
    keep = ("cpu_us_per_delivery", "user_us_per_delivery", "writes_per_delivery", "deliveries", "lost")
    return {"step": step.label, **{k: figures.get(k) for k in keep}, **profile}


def render(figures: dict[str, Any]) -> list[str]:
    out = ["## Where one broadcast at a time goes, below Python (issue 28 goal 3)", ""]
    if "skipped" in figures or "error" in figures:
        return [*out, f"Not measured: {figures.get('skipped') or figures.get('error')}."]
    cpu = figures["cpu_us_per_delivery"]
    out += [
        f"`python -m bench.kernel_profile`: the scale step {figures['step']} again (one instance, one "
        "broadcast at a time per namespace), `perf record -g` on the server through the broadcast stage; "
        "each sample goes to the first bucket its stack matches (`bench/kernel_profile.py`). µs per "
        f"delivery = share × the step's {cpu:.2f} µs of CPU per delivery "
        f"({figures['writes_per_delivery']:.2f} `write()` calls per delivery, "
        f"{figures['samples']:,} samples).",
        "", "| where | share of the server's samples | µs per delivery |", "| --- | ---: | ---: |",
        *(f"| {name} | {share:.0%} | {share * cpu:.2f} |" for name, share in figures["shares"].items()),
        f"| … of which telling the reader its socket has data (`{WAKE_UP}`) | "
        f"{figures['wake_up_share']:.0%} | {figures['wake_up_share'] * cpu:.2f} |", "",
    ]
    loopback = next((share for name, share in figures["shares"].items() if name.startswith("loopback")), 0.0)
    verdict = "**met**" if cpu <= GOAL_US else "**not met**"
    out += [f"Goal 3 asks ≤ {GOAL_US:g} µs per delivery: {verdict}, {cpu:.2f} µs measured. Of it, "
            f"{loopback * cpu:.2f} µs is the client's side of loopback TCP, billed to the server's `send()` "
            "here and to the client's host on a network; the server's own part is the other "
            f"{(1 - loopback) * cpu:.2f} µs."]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    args = parser.parse_args(argv)
    print("\n".join(render(run_section(args.quick))))


if __name__ == "__main__":
    sys.exit(main())
