"""The Ray that zoo starts on this machine for a sweep (``--executor ray`` without an address).

It is the sweep's own, so it is as closed as Ray allows: every service listens on
127.0.0.1 only, there is no dashboard unless asked (then on 127.0.0.1 too), and its
session lives in a fresh temp folder of its own, never Ray's default ``/tmp/ray``: a
machine where Ray never ran works, and a user's ``ray.init(address="auto")`` never
lands on it.

Ray stops what it started when its driver ends, except when the driver is killed
(SIGKILL, OOM): then Ray's agents live on for minutes, re-parented to init, listening.
So before starting, zoo writes a record in ``$XDG_STATE_HOME/zoo/ray/`` (default
``~/.local/state/zoo/ray/``) naming the driver (pid and start time) and a random token
that every process of this Ray inherits in its environment (``ZOO_RAY_STARTED_BY``).
``reap()``, run by every ``zoo bench --executor ray`` (``--dry-run`` too), kills the
processes of the Rays whose driver is gone: exactly this user's processes whose
environment carries such a token or whose working folder is that Ray's session
folder. A user's own Ray has neither, so it is never touched, nor is a Ray whose zoo
driver still runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from zoo.atomic import write_json_atomic
from zoo.errors import ZooError, one_line

TOKEN_VAR = "ZOO_RAY_STARTED_BY"
PREFIX = "zoo-ray-"  # the session folders zoo makes, and the only ones reap() deletes
_TOKEN = re.compile(r"[0-9a-f]{32}")


def state_dir() -> Path:
    """``$XDG_STATE_HOME/zoo/ray``, defaulting to ``~/.local/state/zoo/ray``."""
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "zoo" / "ray"


@dataclass(frozen=True)
class LocalRay:
    token: str
    temp_dir: Path
    record: Path


def start(num_cpus: int, dashboard: bool, options: dict) -> LocalRay:
    """Start and join a Ray of the sweep's own, recorded before anything starts."""
    reap()
    token = uuid.uuid4().hex
    temp = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_short_temp_root()))
    local = LocalRay(token, temp, state_dir() / f"{token}.json")
    _write_record(local)
    # Ray turns token authentication on for a new local Ray, as it should, and says so on
    # stderr on every sweep; the sweep's private Ray needs no such notice.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    saved = os.environ.get(TOKEN_VAR)
    os.environ[TOKEN_VAR] = token
    import ray
    from ray._private import ray_constants

    # ray.init maps a loopback node address back to the machine's network address, so
    # every service would listen there; Ray keeps 127.0.0.1 only where clusters are off
    # (its laptop mode), which is what a sweep's private Ray is.
    clusters = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with away_from_cwd(temp):  # the node's processes keep the folder they start in
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=dashboard,
                     dashboard_host="127.0.0.1", _temp_dir=str(temp), **options)
    except Exception as exc:  # noqa: BLE001 - whatever Ray raises, say it in one line
        stop(local)
        raise ZooError(f"could not start a local Ray: {one_line(exc, with_type=True)}") from None
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = clusters
        if saved is None:
            os.environ.pop(TOKEN_VAR, None)
        else:
            os.environ[TOKEN_VAR] = saved
    return local


@contextlib.contextmanager
def away_from_cwd(folder: Path | None = None):
    """Call ``ray.init`` from ``folder`` (default: an empty one, removed after).

    Ray puts its driver's working folder first on every worker's sys.path: a zoo or
    plugin checkout there would shadow what each node has installed.  From an empty
    folder, Ray's workers import what their node has, like every process zoo starts."""
    here = os.getcwd()
    where = folder or Path(tempfile.mkdtemp(prefix="zoo-driver-"))
    os.chdir(where)
    try:
        yield
    finally:
        os.chdir(here)
        if folder is None:
            shutil.rmtree(where, ignore_errors=True)


def stop(local: LocalRay) -> None:
    """After ``ray.shutdown()``: end what Ray leaves to die on its own, forget the record."""
    _kill_carriers(local.token, local.temp_dir)
    shutil.rmtree(local.temp_dir, ignore_errors=True)
    local.record.unlink(missing_ok=True)


def reap() -> list[int]:
    """Kill the processes of zoo-started Rays whose driver is gone; their pids."""
    killed: list[int] = []
    folder = state_dir()
    if not folder.is_dir():
        return killed
    for record in folder.glob("*.json"):
        try:
            data = json.loads(record.read_text())
            token, pid, started = data["token"], int(data["driver_pid"]), data["driver_started"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours to judge: leave a file we cannot read alone
        if not (isinstance(token, str) and _TOKEN.fullmatch(token)):
            continue
        if started is not None and _start_time(pid) == started:
            continue  # its driver still runs: that sweep's Ray is in use
        temp = Path(str(data.get("temp_dir", "")))
        ours = temp.is_absolute() and temp.name.startswith(PREFIX)
        killed += _kill_carriers(token, temp if ours else None)
        if ours:
            shutil.rmtree(temp, ignore_errors=True)
        record.unlink(missing_ok=True)
    return killed


def _write_record(local: LocalRay) -> None:
    try:
        write_json_atomic(local.record, {
            "token": local.token, "driver_pid": os.getpid(),
            "driver_started": _start_time(os.getpid()), "temp_dir": str(local.temp_dir)}, indent=None)
    except OSError as exc:
        shutil.rmtree(local.temp_dir, ignore_errors=True)
        raise ZooError(f"cannot record the local Ray in {local.record.parent} "
                       f"({exc.strerror or one_line(exc)}); set XDG_STATE_HOME to a writable folder") from None


def _short_temp_root() -> str:
    # Ray's sockets live in <temp>/session_<date>_<pid>/sockets/: a unix socket path
    # may hold 107 bytes, so a long $TMPDIR would break Ray in an obscure way.
    root = tempfile.gettempdir()
    return root if len(root) <= 40 else "/tmp"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, its identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _carriers(token: str, session: Path | None) -> list[int]:
    """This user's live processes whose environment holds ``ZOO_RAY_STARTED_BY=token``,
    or whose working folder is the Ray's session folder: Ray's processes rename
    themselves (``ray::IDLE``...), which may overwrite where the kernel shows their
    environment, but they keep the folder ``ray.init`` ran in, which zoo made for them."""
    needle, uid, me = f"{TOKEN_VAR}={token}".encode(), os.getuid(), os.getpid()
    found: list[int] = []
    if not Path("/proc").is_dir():  # no process table to read: nothing is killed
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            environ = (entry / "environ").read_bytes()  # empty for a zombie
            cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)") if environ else ""
        except OSError:
            continue
        inside = session is not None and (cwd == str(session) or cwd.startswith(f"{session}/"))
        if needle in environ.split(b"\0") or inside:
            found.append(int(entry.name))
    return found


def _kill_carriers(token: str, session: Path | None, within: float = 10.0) -> list[int]:
    """SIGKILL every process of that Ray until none is left (Ray may still be spawning)."""
    killed: set[int] = set()
    deadline = time.monotonic() + within
    while (pids := _carriers(token, session)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.1)
    return sorted(killed)
