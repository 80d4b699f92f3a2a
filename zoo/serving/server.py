"""Running the server: bind the socket, serve with uvicorn, drain on SIGTERM, exit 0
(``--workers``: zoo.serving.workers).

The socket is bound here rather than by uvicorn so that a taken port is a one-line error
before anything is served, and ``--port 0`` can announce the port the system chose.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading

from zoo.errors import ConfigError, one_line
from zoo.serving.models import ServeOptions

DRAIN_SECONDS = 30  # in-flight requests get this long after SIGTERM before they are cut
# How long an idle connection stays open.  It must outlast the clients' own idle expiry
# (httpx: 5 s, aiohttp: 15 s, Go: 90 s is the exception): a server that closes first races
# the client's next request, and under load (the event loop busy for a while, then the
# keep-alive timers run with a request unread in the socket) that request is reset
# (ECONNRESET: httpx's ReadError).  uvicorn's 5 s default equals httpx's, and the 60 s
# soak at c32 on the 2 shared cores lost 2 of 11,132 requests that way.  nginx's default.
KEEP_ALIVE_S = 75


def bind(host: str, port: int, *, reuse_port: bool = False, listen: bool = True) -> socket.socket:
    """A TCP socket on ``host:port``; ``reuse_port``: one of several on the same port
    (``--workers``), each given its share of the connections once listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said outright: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto is TCP, and accepted sockets inherit 0 from a listener made without it; with
    # Nagle on, every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or one_line(exc)}") from None
    if listen:
        sock.listen(2048)
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


def config_for(app):
    import uvicorn

    return uvicorn.Config(app, log_level="warning",
                          access_log=False, lifespan="on", timeout_graceful_shutdown=DRAIN_SECONDS,
                          timeout_keep_alive=KEEP_ALIVE_S, server_header=False)


def serve_loaded(models, options: ServeOptions, sock: socket.socket) -> None:
    """Serve ``models`` (loaded) in this process until SIGTERM/SIGINT, then drain."""
    from zoo.serving.app import create_app

    server = _server_class()(config_for(create_app(models, options)))
    server.run(sockets=[sock])

