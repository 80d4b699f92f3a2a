"""Starting and watching the processes of one cell.

A cell's processes run in a session of their own, so a timeout or Ctrl-C can stop the
whole group, grandchildren included, and every one of them dies with the runner, so a
killed sweep leaves no orphans.  Two ways to start them share one watch loop:
``run_watched`` starts a command; ``zoo.exec.forkserver_client.ForkServer`` forks a warm
process that has already imported paddle, which saves every ``single`` cell the second or
two of start-up.

Nothing zoo starts imports code from the caller's working directory (``zoo bench`` may
run inside an untrusted checkout): Python starts scripts from ``zoo/scripts/``, whose own
folder, not the cwd, becomes ``sys.path[0]`` (``-m`` would put the cwd there), and each
cell runs in its own folder.  ``zoo.exec.launch`` documents what a worker gets.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
# -P (3.11+) also keeps the cwd off sys.path of the `python -c` children multiprocessing
# spawns (it passes the flag on); 3.10 relies on those children running in the cell folder.
_SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else []
# Variables naming paths that a child started in another folder must read as we do.
_PATH_VARIABLES = ("ZOO_DATA_DIR", "ZOO_REGISTRY")


@dataclass
class Outcome:
    """How a cell's processes ended: the exit code (None: killed), and whether zoo stopped
    them for the timeout or on request; ``seconds`` from start to end."""

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


def dying_with_this_process(new_session: bool = True) -> Callable[[], None]:
    """preexec_fn: the child gets SIGKILL when this process dies (and, by default, a
    session of its own).  The workers set this themselves, but ``paddle.distributed.launch``
    and VisualDL do not: without it a killed runner left the launch process and its
    workers training on, and a killed ``zoo board`` left VisualDL listening."""
    parent = os.getpid()

    def setup() -> None:
        if new_session:
            os.setsid()
        die_with_parent()
        if os.getppid() != parent:  # we died before prctl took effect
            os._exit(1)

    return setup


def python_script(name: str, *args: str) -> list[str]:
    """The command running ``zoo/scripts/NAME`` with this Python."""
    return [sys.executable, *_SAFE_PATH, str(SCRIPTS / name), *args]


def python_module(module: str, *args: str) -> list[str]:
    """What ``python -m MODULE ARGS`` runs, without the cwd on sys.path."""
    return python_script("zoo_run_module.py", module, *args)


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) for a child that may run in another folder.

    Relative paths in zoo's variables and PYTHONPATH are made absolute, so they name what
    they name for us; empty PYTHONPATH entries are dropped, since each one silently puts
    the child's cwd on sys.path (``PYTHONPATH=$PYTHONPATH:/x`` with it unset does that).
    """
    env = dict(os.environ if env is None else env)
    for name in _PATH_VARIABLES:
        if env.get(name):
            env[name] = os.path.abspath(os.path.expanduser(env[name]))
    if "PYTHONPATH" in env:
        entries = [os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p]
        if entries:
            env["PYTHONPATH"] = os.pathsep.join(entries)
        else:
            del env["PYTHONPATH"]
    return env


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM one child, then SIGKILL it if it is still there after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


class Watch:
    """A started cell, watched without blocking: ``poll`` until it gives the Outcome.

    Several cells run at once under ``--jobs``, so nothing here waits longer than the
    caller allows; a stop escalates from SIGTERM (workers checkpoint) to SIGKILL over
    later polls instead of in one blocking call.
    """

    def __init__(self, handle: Handle, timeout: float | None, grace: float) -> None:
        self.handle, self.timeout, self.grace = handle, timeout, grace
        self.began = time.monotonic()
        self.timed_out = self.stopped = False
        self._kill_at: float | None = None  # SIGKILL after the grace period
        self._give_up_at: float | None = None  # a group that ignores even SIGKILL

    def stop(self, grace: float | None = None) -> None:
        """Begin a clean stop: SIGTERM now, SIGKILL after the grace period."""
        if self._kill_at is not None:
            return
        self.stopped = not self.timed_out
        self._kill_at = time.monotonic() + (self.grace if grace is None else grace)
        if not _signal_group(self.handle.pid, signal.SIGTERM):
            self._kill_at = time.monotonic()

    def kill(self) -> None:
        """Now: no member of the group outlives this call by more than the kernel's delay."""
        _signal_group(self.handle.pid, signal.SIGKILL)

    def poll(self, wait: float = 0.0) -> Outcome | None:
        """The Outcome once the leader has ended (waiting up to ``wait`` s), else None."""
        code = self.handle.wait(wait)
        now = time.monotonic()
        if code is None:
            if self._kill_at is None and self.timeout is not None and now - self.began > self.timeout:
                self.timed_out = True
                self.stop(grace=min(self.grace, 5.0))
            if self._kill_at is not None and now >= self._kill_at and self._give_up_at is None:
                self.kill()
                self._give_up_at = now + 10.0
            if self._give_up_at is None or now < self._give_up_at:
                return None
        self.kill()  # stragglers of a group whose leader exited
        return Outcome(code, self.timed_out, self.stopped, now - self.began)


def watch(handle: Handle, timeout: float | None, should_stop: Callable[[], bool],
          on_poll: Callable[[], None], grace: float) -> Outcome:
    """Wait for the cell, polling its progress; stop it on timeout or when asked."""
    watched = Watch(handle, timeout, grace)
    try:
        while True:
            outcome = watched.poll(0.25)
            if outcome is not None:
                return outcome
            on_poll()
            if should_stop():
                watched.stop()
    except BaseException:  # an exception in the watcher: never leave the cell running
        _stop_group(handle, grace=1.0)
        raise


class _PopenHandle:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.pid = proc, proc.pid

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def start_process(cmd: list[str], log_file: Path, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None, cpus: list[int] | None = None) -> Handle:
    """Start ``cmd`` in a new process group with output to ``log_file``, on ``cpus``
    (default: ours); it dies with this process.  ``env`` goes through ``child_env``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    setup = dying_with_this_process()

    def preexec() -> None:
        setup()
        if cpus:
            os.sched_setaffinity(0, cpus)  # inherited by every process of the cell

    with open(log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=preexec, env=child_env(env), cwd=cwd)
    return _PopenHandle(proc)


def run_watched(cmd: list[str], log_file: Path, timeout: float | None = None,
                should_stop: Callable[[], bool] = lambda: False,
                on_poll: Callable[[], None] = lambda: None, grace: float = 30.0,
                env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Outcome:
    """Run ``cmd`` in a new process group with output to ``log_file``; watch and reap it.

    ``cwd``: the folder it runs in (a cell's own); ``env`` goes through ``child_env``.
    """
    return watch(start_process(cmd, log_file, env, cwd), timeout, should_stop, on_poll, grace)


def __getattr__(name: str):
    # The fork server's client moved to zoo.exec.forkserver_client; old imports still work
    # (imported lazily: that module builds on this one).
    if name in ("ForkServer", "ForkServerError"):
        from zoo.exec import forkserver_client

        return getattr(forkserver_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
