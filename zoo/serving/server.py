"""Running the server: bind the socket, serve with uvicorn, drain on SIGTERM, exit 0.

The socket is bound here rather than by uvicorn so that a taken port is a one-line error
before anything is served, and ``--port 0`` can announce the port the system chose.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import threading

from zoo.errors import ConfigError, one_line
from zoo.serving.models import ServeOptions

STARTUP_FAILURE = 3  # uvicorn's exit code of a worker whose app did not start
DRAIN_SECONDS = 30  # in-flight requests get this long after SIGTERM before they are cut
# How long an idle connection stays open.  It must outlast the clients' own idle expiry
# (httpx: 5 s, aiohttp: 15 s, Go: 90 s is the exception): a server that closes first races
# the client's next request, and under load (the event loop busy for a while, then the
# keep-alive timers run with a request unread in the socket) that request is reset
# (ECONNRESET: httpx's ReadError).  uvicorn's 5 s default equals httpx's, and the 60 s
# soak at c32 on the 2 shared cores lost 2 of 11,132 requests that way.  nginx's default.
KEEP_ALIVE_S = 75


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said outright: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto is TCP, and accepted sockets inherit 0 from a listener made without it; with
    # Nagle on, every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or one_line(exc)}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, but a SIGTERM or SIGINT ends it with exit code 0 once drained.

        uvicorn re-raises a caught signal after its graceful shutdown, so the process
        would die of it (exit -15); for zoo a drained stop is a clean stop."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            saved = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in saved.items():
                    signal.signal(sig, handler)

    return Server


def config_for(app, workers: int):
    import uvicorn

    return uvicorn.Config(app, factory=workers > 1, workers=workers, log_level="warning",
                          access_log=False, lifespan="on", timeout_graceful_shutdown=DRAIN_SECONDS,
                          timeout_keep_alive=KEEP_ALIVE_S, server_header=False)


def serve_loaded(models, options: ServeOptions, sock: socket.socket) -> None:
    """Serve ``models`` (loaded) in this process until SIGTERM/SIGINT, then drain."""
    from zoo.serving.app import create_app

    server = _server_class()(config_for(create_app(models, options), 1))
    server.run(sockets=[sock])


def serve_workers(options: ServeOptions, sock: socket.socket, workers: int) -> None:
    """``workers`` processes sharing ``sock``, each loading every model itself."""
    from uvicorn.supervisors import Multiprocess

    os.environ["ZOO_SERVE_OPTIONS"] = json.dumps(dataclasses.asdict(options))
    from zoo.errors import ZooError

    config = config_for("zoo.serving.app:from_environment", workers)
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise ZooError("a worker could not load the models (its error is above)")
