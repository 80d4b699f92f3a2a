"""The client of the fork server (``zoo.exec.forkserver``): a warm process that has
already imported paddle forks each ``single`` cell, which saves it the second or two of
start-up.  A forked cell is watched like any other (``zoo.exec.process.watch``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from zoo.exec.process import Handle, Outcome, child_env, dying_with_this_process, python_script, watch


class ForkServerError(RuntimeError):
    """The fork server could not start or died; the runner falls back to plain processes."""


class _ForkedHandle:
    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.code: int | None = None

    def wait(self, timeout: float) -> int | None:
        if self.code is None:
            message = self.server.read(timeout)
            if message is not None and "exit" in message:
                self.code = int(message["exit"])
        return self.code


class ForkServer:
    """Client side of the fork server (``zoo.exec.forkserver``): one request, one cell, at a time.

    Messages travel over two private pipes whose numbers are in the server's argv; its
    stdout and stderr go to its log, so nothing a plugin prints can garble a message.
    """

    def __init__(self, log_file: Path, start_timeout: float = 120.0,
                 cwd: Path | None = None, wait: bool = True) -> None:
        """Start the server; with ``wait=False`` call ``ready()`` before the first cell
        (several servers then import paddle at the same time)."""
        log_file = log_file.absolute()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file, self.start_timeout = log_file, start_timeout
        request_end, self._requests = os.pipe()
        self._replies, reply_end = os.pipe()
        self._buffer = b""
        self._ready = False
        try:
            with open(log_file, "ab") as log:
                self.proc = subprocess.Popen(
                    python_script("zoo_forkserver.py", str(request_end), str(reply_end)),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(request_end, reply_end), cwd=cwd or log_file.parent,
                    env=child_env(), preexec_fn=dying_with_this_process())
        except (OSError, subprocess.SubprocessError) as exc:
            self._close_pipes()
            raise ForkServerError(f"the fork server did not start: {exc}") from None
        finally:  # the server's ends: only the server may hold them, or EOF never comes
            os.close(request_end)
            os.close(reply_end)
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait until the server has imported paddle; ForkServerError if it never does."""
        if self._ready:
            return
        try:
            ready = self.read(self.start_timeout)
        except ForkServerError:  # it died on start: still reap it and close the pipes
            ready = None
        if ready != {"ready": True}:
            self.close()
            raise ForkServerError(f"the fork server did not start (see {self.log_file})")
        self._ready = True

    def read(self, timeout: float) -> dict | None:
        """The server's next message, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        # Our own buffer: a buffered reader could swallow a second message that select
        # then never reports, and a cell would wait for an exit it had already been told.
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self._replies, 65536)
            if not chunk:
                raise ForkServerError("the fork server exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            raise ForkServerError(f"the fork server sent {line[:80]!r}") from None

    def start(self, job_file: Path, log_file: Path, cwd: Path | None = None,
              cpus: list[int] | None = None, env: dict[str, str] | None = None) -> Handle:
        """Fork a worker for ``job_file`` that runs in ``cwd`` (default: the server's),
        on ``cpus`` (default: the server's) with ``env`` added to its environment."""
        self.ready()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        request = {"job": str(job_file.absolute()), "log": str(log_file.absolute())}
        if cwd is not None:
            request["cwd"] = str(cwd.absolute())
        if cpus:
            request["cpus"] = sorted(cpus)
        if env:
            request["env"] = dict(env)
        data = json.dumps(request).encode() + b"\n"
        try:
            while data:
                data = data[os.write(self._requests, data):]
            started = self.read(30.0)
        except OSError as exc:
            raise ForkServerError(f"the fork server is gone: {exc}") from None
        if not started or "pid" not in started:
            raise ForkServerError("the fork server did not start the cell")
        return _ForkedHandle(self, int(started["pid"]))

    def run(self, job_file: Path, log_file: Path, timeout: float | None,
            should_stop: Callable[[], bool], on_poll: Callable[[], None], grace: float,
            cwd: Path | None = None) -> Outcome:
        """Fork a worker for ``job_file`` and watch it to its end."""
        return watch(self.start(job_file, log_file, cwd), timeout, should_stop, on_poll, grace)

    def _close_pipes(self) -> None:
        for fd in (self._requests, self._replies):
            if fd >= 0:
                os.close(fd)
        self._requests = self._replies = -1  # a second close must not hit a reused number

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()
