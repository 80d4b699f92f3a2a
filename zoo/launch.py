"""Launch strategies: how the processes of one job start, and how they are watched.

Every launcher runs the same code (``zoo.worker`` → ``zoo.train.train``); a launcher only
builds the command line.  ``run_watched`` starts it in its own process group so that a
timeout or Ctrl-C can stop the whole group, grandchildren included, leaving no orphans.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WORKER_MODULE = "zoo.worker"


class Launcher:
    """Base class: subclasses say how to start ``nprocs`` workers for a job file."""

    name = "?"
    max_nprocs: int | None = None

    def problem(self, nprocs: int, device: str) -> str | None:
        """Why this launcher cannot run ``nprocs`` processes on ``device`` (None if it can)."""
        if self.max_nprocs is not None and nprocs > self.max_nprocs:
            return f"launcher '{self.name}' runs {self.max_nprocs} process; use spawn or launch for --nprocs {nprocs}"
        return None

    def command(self, job_file: Path, nprocs: int, device: str, log_dir: Path) -> list[str]:
        raise NotImplementedError


class SingleLauncher(Launcher):
    name = "single"
    max_nprocs = 1

    def command(self, job_file, nprocs, device, log_dir):
        return [sys.executable, "-m", WORKER_MODULE, str(job_file)]


class SpawnLauncher(Launcher):
    name = "spawn"

    def command(self, job_file, nprocs, device, log_dir):
        return [sys.executable, "-m", WORKER_MODULE, "--spawn", str(nprocs), str(job_file)]


@dataclass
class DistributedLaunchLauncher(Launcher):
    master_port: int = 0
    name = "launch"

    def command(self, job_file, nprocs, device, log_dir):
        cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nprocs),
               "--log_dir", str(log_dir)]
        if device.startswith("gpu"):
            first = int(device.partition(":")[2] or 0)
            cmd += ["--devices", ",".join(str(first + i) for i in range(nprocs))]
        if self.master_port:
            cmd += ["--start_port", str(self.master_port)]
        return cmd + [str(Path(__file__).with_name("scripts") / "zoo_worker.py"), str(job_file)]


@dataclass
class Outcome:
    returncode: int | None  # None when it had to be killed
    timed_out: bool
    stopped: bool
    seconds: float


def _kill_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the group (workers checkpoint and exit), then SIGKILL whatever is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure no member of its group outlives it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def _session_dying_with(parent: int) -> Callable[[], None]:
    """preexec_fn: a new session (so the group can be killed) that gets SIGKILL when the
    runner dies.  The workers set this themselves, but ``paddle.distributed.launch`` does
    not: without it a killed runner left the launch process and its workers training on."""
    import ctypes

    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None

    def setup() -> None:
        os.setsid()
        if prctl is not None:
            prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the runner died before prctl took effect
                os._exit(1)

    return setup


def run_watched(cmd: list[str], log_file: Path, timeout: float | None = None,
                should_stop: Callable[[], bool] = lambda: False,
                on_poll: Callable[[], None] = lambda: None, grace: float = 30.0,
                env: dict[str, str] | None = None) -> Outcome:
    """Run ``cmd`` in a new process group with output to ``log_file``; watch and reap it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_session_dying_with(os.getpid()), env=env)
        timed_out = stopped = False
        try:
            while True:
                try:
                    proc.wait(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    pass
                on_poll()
                if timeout is not None and time.monotonic() - began > timeout:
                    timed_out = True
                    _kill_group(proc, grace=min(grace, 5.0))
                    break
                if should_stop():
                    stopped = True
                    _kill_group(proc, grace=grace)
                    break
        finally:
            if proc.poll() is None:  # an exception in the watcher: never leave it running
                _kill_group(proc, grace=1.0)
        # reap stragglers of a group whose leader exited normally
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return Outcome(proc.returncode, timed_out, stopped, time.monotonic() - began)


def last_error_line(log_file: Path, limit: int = 64_000) -> str:
    """The most telling line of a worker log: the last error, else the last line."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - limit))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error:" in line or "Killed" in line:
            return line[:300]
    # Else the last line that is not noise: Python warnings (paddle's "No ccache found"
    # and its "warnings.warn(...)" source line) and glog INFO/WARNING lines said nothing
    # about why a worker died, yet used to become the reason of every exit-code failure.
    for line in reversed(lines):
        if not (_NOISE.search(line) or line.startswith("warnings.warn(")):
            return line[:300]
    return ""


_NOISE = re.compile(r"Warning: |^[IW]\d{4} \d\d:\d\d:\d\d")
