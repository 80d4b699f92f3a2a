"""Guards around running a plugin's own code.

``zoo list --json`` must stay valid JSON whatever a plugin prints, without a child
process, so ``zoo list`` stays cheap: output is redirected at the file-descriptor level.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by C code, to stderr meanwhile."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1: nothing can be garbled
        saved = -1
    if saved >= 0:
        try:
            os.dup2(2, 1)
        except OSError:  # no fd 2: leave fd 1 alone
            os.close(saved)
            saved = -1
    python_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        if sys.stderr is not None:
            sys.stderr.flush()
        _flush_c_stdio()  # a C extension's printf sits in libc's buffer until then
        sys.stdout = python_stdout
        if saved >= 0:
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
