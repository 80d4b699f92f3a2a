"""``--ray-address``: the cluster a sweep joins, checked before anything starts.

Left to itself, ``ray.init`` on an address where no Ray answers retries for minutes
(a closed port, a host that drops packets) or ends in a traceback (a malformed address,
``auto`` with no cluster).  So the address is checked first, each way it can fail
ending in one line within a bounded time: its form (HOST:PORT or ``auto``), its host
(resolved), its port (a TCP connection within the timeout), and last that a Ray cluster
answers there: a throwaway driver joins it in a child process that is killed at the
timeout, so Ray's retries and its C++ log lines never reach the sweep.

``auto`` means ``$RAY_ADDRESS``, else the address ``ray start`` recorded on this machine.
Unlike Ray's own ``auto``, it never falls back to any Ray process found running: that
may be a Ray private to another sweep or to a test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess

from zoo.errors import ConfigError, one_line
from zoo.exec.process import dying_with_this_process, python_script

OPTION = "--ray-address"


def checked_address(address: str, timeout: float) -> str:
    """The cluster's ``HOST:PORT`` once a Ray cluster answered there, else a ConfigError."""
    given = address.strip()
    if given == "auto":
        given, source = _auto(), "RAY_ADDRESS" if os.environ.get("RAY_ADDRESS", "").strip() \
            else f"{OPTION} auto"
    else:
        source = OPTION
    host, port = _split(given, source)
    _connect(host, port, source, given, timeout)
    _join(given, source, timeout)
    return given


def _auto() -> str:
    from_env = os.environ.get("RAY_ADDRESS", "").strip()
    if from_env:
        return from_env
    try:
        from ray._private.utils import read_ray_address

        recorded = read_ray_address()
    except Exception:  # noqa: BLE001 - another Ray keeps it elsewhere: then none is known
        recorded = None
    if not recorded:
        raise ConfigError(f"{OPTION} auto: no running Ray cluster is known here (RAY_ADDRESS is "
                          "unset and `ray start` recorded none); start one with `ray start "
                          "--head` or give its HOST:PORT")
    return recorded


def _split(address: str, source: str) -> tuple[str, int]:
    shown = one_line(address)
    if "://" in address:
        raise ConfigError(f"{source} {shown}: zoo joins a cluster by its address HOST:PORT "
                          f"(what `ray start --head` prints), not a {address.split('://')[0]}:// URL")
    host, colon, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 \
            or any(c.isspace() or c in "/@?#" for c in host):
        raise ConfigError(f"{source} {shown}: not HOST:PORT (e.g. 10.0.0.1:6379) or auto")
    return host, int(port)


def _connect(host: str, port: int, source: str, address: str, timeout: float) -> None:
    shown = one_line(address)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise ConfigError(f"{source} {shown}: cannot resolve {one_line(host)} ({reason})") from None
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 10.0)):
            pass
    except ConnectionRefusedError:
        raise ConfigError(f"{source} {shown}: nothing listens there (connection refused); "
                          "is the cluster up (`ray start --head`)?") from None
    except TimeoutError:
        raise ConfigError(f"{source} {shown}: no answer within {min(timeout, 10.0):g} s "
                          "(a firewall, or no such machine)") from None
    except OSError as exc:
        raise ConfigError(f"{source} {shown}: cannot connect ({exc.strerror or one_line(exc)})") from None


def _join(address: str, source: str, timeout: float) -> None:
    child = subprocess.Popen(python_script("zoo_ray_join.py", address), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                             preexec_fn=dying_with_this_process())
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise ConfigError(f"{source} {one_line(address)}: something listens there, but no Ray "
                          f"cluster answered within {timeout:g} s (raise it with --set "
                          "executor.connect_timeout=S)") from None
    words = (out.strip().splitlines() or ["error (the check ended without a word)"])[-1]
    if child.returncode != 0 or not words.startswith("ok"):
        raise ConfigError(f"{source} {one_line(address)}: joining the Ray cluster there failed: "
                          f"{one_line(words.removeprefix('error '))}")
