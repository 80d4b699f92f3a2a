"""Guards around running a plugin's own code: its output, and how long it may take.

``zoo list --json`` must stay valid JSON whatever a plugin prints, and a plugin that
loops must not hang every command.  Both without a child process, so ``zoo list`` stays
cheap: output is redirected at the file-descriptor level, time is limited by a timer.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from zoo.errors import ConfigError

TIMEOUT_ENV = "ZOO_PLUGIN_TIMEOUT"
DEFAULT_TIMEOUT = 10.0


class PluginTimeout(BaseException):
    """A plugin overran its time.  A BaseException, so its ``except Exception`` cannot
    swallow it and carry on looping."""


def plugin_timeout() -> float:
    """Seconds a plugin's import, and its registration, may take: ``$ZOO_PLUGIN_TIMEOUT``."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds greater than 0")
    return seconds


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise PluginTimeout in the block after ``seconds`` (main thread only).

    SIGALRM can only interrupt the main thread, so elsewhere, or when something outside
    Python owns the handler, the block runs unlimited rather than break someone's timer.
    The previous handler and timer are always restored.
    """
    previous = signal.getsignal(signal.SIGALRM)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return

    def expire(signum, frame):
        raise PluginTimeout

    began = time.monotonic()
    signal.signal(signal.SIGALRM, expire)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        while True:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except PluginTimeout:  # it fired just as the block ended: clean up all the same
                continue
        if old_delay:  # an outer timer keeps its deadline; if it passed, it fires now
            left = max(old_delay - (time.monotonic() - began), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


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
        flush_c_stdio()  # a C extension's printf sits in libc's buffer until then
        sys.stdout = python_stdout
        if saved >= 0:
            os.dup2(saved, 1)
            os.close(saved)


def flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
