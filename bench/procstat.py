"""Server cost read from ``/proc``: CPU time and resident memory of one process.

The load generator runs in another process, so these figures are the server's alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: /proc counts CPU time in these ticks: the resolution of every CPU figure read here.
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """CPU seconds (user, system) and RSS bytes of one process at one moment.

    On loopback the kernel's whole TCP path (the receiver's half too) runs in the
    sender's system time, so ``system`` is mostly the cost of ``write`` syscalls.
    """

    user: float
    system: float
    rss: int

    @property
    def cpu(self) -> float:
        return self.user + self.system


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` (``/proc/<pid>/stat`` fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # The command name (field 2) may hold spaces; every field after it follows the last ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[11]) / TICKS_PER_SECOND, int(fields[12]) / TICKS_PER_SECOND


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (``VmRSS`` in ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def write_syscalls(pid: int) -> int:
    """``write``-family system calls ``pid`` made so far (``syscw`` in ``/proc/<pid>/io``):
    over a broadcast stage, how many the kernel was asked for per delivery."""
    with open(f"/proc/{pid}/io", "rb") as f:
        for line in f:
            if line.startswith(b"syscw:"):
                return int(line.split()[1])
    raise RuntimeError(f"no syscw for pid {pid}")


def sample(pid: int) -> Sample:
    return Sample(*cpu_times(pid), rss_bytes(pid))
