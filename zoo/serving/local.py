"""A ``zoo serve`` of our own: started on a free port of 127.0.0.1, stopped with SIGTERM.

``zoo bench-serve EXPORT`` measures through it, and so do the benchmarks: the server is
the real command in its own process, exactly as a user starts it.
"""

from __future__ import annotations

import re
import queue
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from zoo.errors import ZooError

LISTENING = re.compile(r"^listening on (http://\S+)$")
START_TIMEOUT_S = 180.0


def announced_url(proc: subprocess.Popen, timeout: float) -> str | None:
    """The URL a starting ``zoo serve`` prints on stdout ("listening on URL"), or None
    when it exits or stays silent for ``timeout`` seconds (after waiting for an exit)."""
    # A thread reads stdout: select() on a buffered pipe misses lines already buffered.
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put("")],
                     daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        found = LISTENING.match(line.strip())
        if found:
            return found.group(1)
        if line == "":  # the server exited
            proc.wait()
            return None
    return None


class LocalServer:
    def __init__(self, exports: list[Path], *serve_args: str, registry_file: str | None = None) -> None:
        self.exports, self.serve_args, self.registry_file = exports, serve_args, registry_file
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> LocalServer:
        from zoo.exec.process import child_env, dying_with_this_process, python_module

        registry = ["--registry", self.registry_file] if self.registry_file else []
        cmd = python_module("zoo", *registry, "serve", *map(str, self.exports), "--host", "127.0.0.1",
                            "--port", "0", *self.serve_args)
        # stderr to a file: a pipe nobody reads would stall a server that logs a lot.
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=child_env(), preexec_fn=dying_with_this_process(False))
        try:
            self.url = self._announced()
        except BaseException:
            self.close()
            raise
        return self

    def _announced(self) -> str:
        url = announced_url(self.proc, START_TIMEOUT_S)
        if url:
            return url
        self.log.seek(0)
        last = self.log.read().strip().splitlines()[-1:] or ["it did not announce its address in time"]
        raise ZooError(f"zoo serve did not start: {last[0].removeprefix('zoo: error: ')}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> int | None:
        """SIGTERM (the server drains, then exits 0); its exit code."""
        from zoo.exec.process import stop_process

        if self.proc is None:
            return None
        stop_process(self.proc, grace=60.0)
        self.log.close()
        return self.proc.returncode

    def __exit__(self, *exc) -> None:
        self.close()
