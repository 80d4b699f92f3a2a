"""What a benchmark's processes cost: CPU time and resident memory of a process and its
descendants (a server of --workers N is a parent and N workers), and of this script with
the children it waited for (a C load generator)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server of --workers N is a parent and N workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            found += tree(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of process ``pid`` and its descendants (all threads)."""
    total = 0
    for each in tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    """CPU seconds of the load generator: this process (httpx) and its ended children (wrk)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, KiB."""
    total = 0
    for each in tree(pid):
        total += next(int(line.split()[1]) for line in Path(f"/proc/{each}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
    return total
