"""``zoo board``'s supervisor: VisualDL on a run's logs, bound where asked, never orphaned.

VisualDL runs as a child that dies with zoo (even a SIGKILLed zoo), started without the
caller's cwd on its sys.path (zoo.exec.process).  Every failure is a one-line ZooError.
"""

from __future__ import annotations

import collections
import errno
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable

from zoo import layout
from zoo.errors import ZooError


def resolve_logdir(path: str) -> str:
    """A run folder holding ``vdl/`` means its ``vdl/``; any other folder is used as is."""
    if not os.path.isdir(path):
        raise ZooError(f"log folder not found: {path}")
    vdl = os.path.join(path, layout.VDL)
    return vdl if os.path.isdir(vdl) else path


WILDCARDS = ("0.0.0.0", "::", "")


def check_port(host: str, port: int) -> int:
    """Fail early, in one line, if we cannot listen there; resolve port 0 to a free port.

    VisualDL itself would print a traceback and then hang in its liveness thread.
    SO_REUSEADDR matches what the server does, so TIME_WAIT leftovers are no conflict.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ZooError(f"cannot resolve host '{host}': {exc.strerror}") from None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ZooError(f"port {port} on {host} is already in use "
                               "(pick another with --port, or --port 0 for a free one)") from None
            raise ZooError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        return sock.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    # http.client, not urllib: proxy environment variables must not apply to localhost.
    conn = http.client.HTTPConnection(host, port, timeout=1)
    try:
        conn.request("GET", "/alive")
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def serve(logdir: str, host: str, port: int, start_timeout: float,
          ready: Callable[[str], None]) -> bool:
    """Run VisualDL on ``logdir`` until it ends or zoo is asked to stop.

    ``ready(url)`` is called once it answers.  Returns True when stopped by Ctrl-C or
    SIGTERM, False when VisualDL ended by itself; raises ZooError when it failed.
    """
    folder = resolve_logdir(logdir)
    port = check_port(host, port)
    # A wildcard address is asked on loopback, but the line shown is what is bound: a
    # user must see that every interface of the machine serves the logs.
    probe = "127.0.0.1" if host in WILDCARDS else host
    bound = host or "0.0.0.0"
    url = f"http://{f'[{bound}]' if ':' in bound else bound}:{port}/"
    from zoo.exec.process import child_env, dying_with_this_process, python_module, stop_process

    # visualdl 2.5.3's console script is visualdl.server.app:main; --disable-telemetry
    # stops it from posting to paddlepaddle.org.cn on start.
    cmd = python_module("visualdl.server.app", "--logdir", folder, "--host", host,
                        "--port", str(port), "--disable-telemetry")
    tail: collections.deque[str] = collections.deque(maxlen=50)  # the end, for errors
    # It dies with us even when we are SIGKILLed and cannot stop it; it stays in our
    # process group, so a terminal's Ctrl-C reaches it as before.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            env=child_env(), preexec_fn=dying_with_this_process(new_session=False))
    # Drain the child's output so a full pipe never blocks it.
    reader = threading.Thread(target=lambda: tail.extend(line.rstrip() for line in proc.stdout),
                              daemon=True)
    reader.start()

    def last_line() -> str:
        reader.join(timeout=2)
        return next((line for line in reversed(tail) if line.strip()), "(no output)")

    # SIGTERM raises KeyboardInterrupt, so it unwinds exactly like Ctrl-C.  SIGINT is set
    # explicitly: a process started in the background by a shell inherits it ignored.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers(probe, port):
            if proc.poll() is not None:
                raise ZooError(f"VisualDL exited (code {proc.returncode}) before serving "
                               f"{folder}: {last_line()}")
            if time.monotonic() > deadline:
                raise ZooError(f"VisualDL did not answer at {url} within {start_timeout:g}s; "
                               f"last output: {last_line()}")
            time.sleep(0.2)
        ready(url)
        code = proc.wait()
    except KeyboardInterrupt:
        return True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
        stop_process(proc)  # no-op when it already exited; never leave a server behind
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    # A signal sent to our whole process group can reach VisualDL first: that is a stop too.
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise ZooError(f"VisualDL exited with code {code}: {last_line()}")
    return False
