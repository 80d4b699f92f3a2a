"""The peak resident memory of the process that trains (metrics.json's ``peak_rss_mb``)."""

from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    """This process's peak RSS in MiB, or that of a child it waited for if larger.

    ``ru_maxrss`` is kept by the kernel for the whole life of the process, so it is the
    true peak whenever it is read, not a sample.  A process forked from zoo's warm fork
    server starts with the server's peak (paddle imported): memory the cell really holds
    too.  Linux counts KiB, macOS bytes."""
    unit = 1 if sys.platform == "darwin" else 1024
    most = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return most * unit / 2**20
