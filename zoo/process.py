"""Starting and watching the processes of one cell.

A cell's processes run in a session of their own, so a timeout or Ctrl-C can stop the
whole group, grandchildren included, and every one of them dies with the runner, so a
killed sweep leaves no orphans.  Two ways to start them share one watch loop:
``run_watched`` starts a command; ``ForkServer`` forks a warm process that has already
imported paddle, which saves every ``single`` cell the second or two of start-up.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol


@dataclass
class Outcome:
    returncode: int | None  # None when it had to be killed
    timed_out: bool
    stopped: bool
    seconds: float


class Handle(Protocol):
    """A started cell: the leader of its process group."""

    pid: int

    def wait(self, timeout: float) -> int | None:
        """The exit code once the leader has ended, else None after ``timeout`` seconds."""


def die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _new_session_dying_with(parent: int) -> Callable[[], None]:
    """preexec_fn: a new session that gets SIGKILL when the runner dies.  The workers set
    this themselves, but ``paddle.distributed.launch`` does not: without it a killed
    runner left the launch process and its workers training on."""

    def setup() -> None:
        os.setsid()
        die_with_parent()
        if os.getppid() != parent:  # the runner died before prctl took effect
            os._exit(1)

    return setup


def _signal_group(pid: int, sig: int) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _stop_group(handle: Handle, grace: float) -> None:
    """SIGTERM the group (workers checkpoint and exit), then SIGKILL whatever is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if not _signal_group(handle.pid, sig):
            return
        if handle.wait(wait) is not None:
            break
    _signal_group(handle.pid, signal.SIGKILL)  # no member of the group outlives its leader


def watch(handle: Handle, timeout: float | None, should_stop: Callable[[], bool],
          on_poll: Callable[[], None], grace: float) -> Outcome:
    """Wait for the cell, polling its progress; stop it on timeout or when asked."""
    began = time.monotonic()
    timed_out = stopped = False
    code = None
    try:
        while code is None:
            code = handle.wait(0.25)
            if code is not None:
                break
            on_poll()
            if timeout is not None and time.monotonic() - began > timeout:
                timed_out = True
                _stop_group(handle, grace=min(grace, 5.0))
                break
            if should_stop():
                stopped = True
                _stop_group(handle, grace=grace)
                break
    except BaseException:  # an exception in the watcher: never leave the cell running
        _stop_group(handle, grace=1.0)
        raise
    _signal_group(handle.pid, signal.SIGKILL)  # stragglers of a group whose leader exited
    code = code if code is not None else handle.wait(0)
    return Outcome(code, timed_out, stopped, time.monotonic() - began)


class _PopenHandle:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.pid = proc, proc.pid

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def run_watched(cmd: list[str], log_file: Path, timeout: float | None = None,
                should_stop: Callable[[], bool] = lambda: False,
                on_poll: Callable[[], None] = lambda: None, grace: float = 30.0,
                env: dict[str, str] | None = None) -> Outcome:
    """Run ``cmd`` in a new process group with output to ``log_file``; watch and reap it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_new_session_dying_with(os.getpid()), env=env)
    return watch(_PopenHandle(proc), timeout, should_stop, on_poll, grace)


class ForkServerError(RuntimeError):
    """The fork server could not start or died; the runner falls back to plain processes."""


class _ForkedHandle:
    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.code: int | None = None

    def wait(self, timeout: float) -> int | None:
        if self.code is None:
            message = self.server.read(timeout)
            if message is not None:
                self.code = int(message["exit"])
        return self.code


class ForkServer:
    """Client side of ``python -m zoo.forkserver``: one request, one cell, at a time."""

    def __init__(self, log_file: Path, start_timeout: float = 120.0) -> None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zoo.forkserver"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, preexec_fn=_new_session_dying_with(os.getpid()))
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._out: IO[bytes] = self.proc.stdout
        self._in: IO[bytes] = self.proc.stdin
        if self.read(start_timeout) != {"ready": True}:
            self.close()
            raise ForkServerError(f"the fork server did not start (see {log_file})")

    def read(self, timeout: float) -> dict | None:
        """The server's next message, or None after ``timeout`` seconds."""
        ready, _, _ = select.select([self._out], [], [], timeout)
        if not ready:
            return None
        line = self._out.readline()
        if not line:
            raise ForkServerError("the fork server exited")
        return json.loads(line)

    def run(self, job_file: Path, log_file: Path, timeout: float | None,
            should_stop: Callable[[], bool], on_poll: Callable[[], None], grace: float) -> Outcome:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._in.write(json.dumps({"job": str(job_file), "log": str(log_file)}).encode() + b"\n")
            self._in.flush()
            started = self.read(30.0)
        except (OSError, ValueError) as exc:
            raise ForkServerError(f"the fork server is gone: {exc}") from None
        if not started or "pid" not in started:
            raise ForkServerError("the fork server did not start the cell")
        return watch(_ForkedHandle(self, int(started["pid"])), timeout, should_stop, on_poll, grace)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self._in, self._out):
            try:
                stream.close()
            except OSError:
                pass
