"""``zoo serve --workers N``: N server processes, each listening on a socket of its own
bound to the same port (``SO_REUSEPORT``), so that the kernel spreads new connections
over them.

Why not uvicorn's supervisor: it hands one shared socket to every worker, and the worker
scheduled first accepts every connection waiting.  wrk's 16 keep-alive connections,
opened at once, went 16/0, 14/2, 13/3 and 12/4 between two workers (uvloop's
``UV_TCP_SINGLE_ACCEPT`` did not change that): one worker served almost everything and
the step ran at half the throughput of an even split.  With a socket each, the kernel
picks the socket for a new connection by a hash of its addresses.

The parent holds the port (bound, never listening: only a listening socket is given
connections), starts the workers (spawned: a fresh interpreter that loads every model
itself), passes SIGTERM and SIGINT on to them and returns once they have drained.  A
worker that dies while serving is replaced; one that cannot load its models stops them
all, with its one-line error.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import socket
import sys
import time

STARTUP_FAILURE = 3  # the exit code of a worker that could not load its models
POLL_S = 0.2


def serve_workers(options, port_sock: socket.socket, workers: int, on_listening=lambda: None) -> None:
    """Serve from ``workers`` processes on ``port_sock``'s address until SIGTERM/SIGINT;
    ``on_listening()`` once every worker listens (its models may still be loading: a
    request waits for them, as with one process)."""
    from zoo.errors import ZooError

    host, port = port_sock.getsockname()[:2]
    context = multiprocessing.get_context("spawn")

    def start():
        listening = context.Event()
        process = context.Process(target=_worker, args=(dataclasses.asdict(options), host, port, listening),
                                  name="zoo-serve-worker")
        process.start()
        return process, listening

    stopping: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: stopping.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    # (process, its "listening" event) each; the event is kept here: a child unpickles it later
    started = [start() for _ in range(workers)]
    announced = failed = False
    try:
        while any(process.is_alive() for process, _ in started):
            time.sleep(POLL_S)
            if not announced and all(event.is_set() for _, event in started) and not stopping:
                announced = True
                on_listening()
            if stopping:
                # Always SIGTERM: a second SIGINT (a terminal's Ctrl+C reaches the workers
                # too) makes uvicorn exit without draining.
                _signal_all(started, signal.SIGTERM)
                stopping.clear()
                continue
            for index, (process, listening) in enumerate(started):
                if process.is_alive() or process.exitcode == 0 or failed:
                    continue  # alive, or drained (a signal that reached it first)
                if process.exitcode == STARTUP_FAILURE or not listening.is_set():
                    failed = True  # it would fail the same way again: stop, do not loop
                    _signal_all(started, signal.SIGTERM)
                else:
                    print(f"zoo: worker {process.pid} died (exit code {process.exitcode}); "
                          "starting another", file=sys.stderr)
                    started[index] = start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for process, _ in started:
            process.join()
    if failed:
        raise ZooError("a worker could not load the models (its error is above)")


def _signal_all(started, signum: int) -> None:
    for process, _ in started:
        if process.is_alive() and process.pid:
            _signal(process.pid, signum)


def _signal(pid: int, signum: int) -> None:
    import os

    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _worker(options: dict, host: str, port: int, listening) -> None:
    """One worker: its own socket on the shared port (listening before the models load, so
    that no connection is refused meanwhile), its own models, until a signal."""
    import os

    from zoo.errors import one_line
    from zoo.plugin import load_catalog
    from zoo.serving.models import ServeOptions, load_all, verified
    from zoo.serving.server import bind, serve_loaded

    served = ServeOptions(**options)
    try:
        sock = bind(host, port, reuse_port=True)
        listening.set()
        catalog = load_catalog(served.registry_file, check=False)
        models = load_all(catalog, verified(served), served)
    except Exception as exc:  # the parent checked what it could; say why in one line
        print(f"zoo: error: worker {os.getpid()}: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None
    try:
        serve_loaded(models, served, sock)
    finally:
        sock.close()
