"""The node's side of the ``ray`` executor: one Ray task runs one cell (or one node's
part of a multi-node cell) in a folder of its own on that node, then ships it home.

Nothing here assumes a file system shared with the driver: the task gets the job, the
registry's text, the data's files and the cell's newest checkpoint as blobs, runs the
launcher's command in ``$ZOO_RAY_DIR/<sweep>/<cell>/`` (default ``$TMPDIR/zoo-ray``) exactly as the local executor
would (a process group of its own that dies with the task), and returns how it ended
with the folder's files.  The control actor carries progress to the driver and the
driver's stop to the task; a task never touches the driver's database.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
import tempfile
import time
from pathlib import Path

from zoo import layout
from zoo.layout import RunDir

POLL = 1.0  # seconds between two words with the control actor


class Control:
    """A Ray actor (0 CPUs): the driver's stop flag, the cells' progress, and the master
    address of multi-node cells, which their rank-0 task finds and the others wait for."""

    def __init__(self) -> None:
        self.stopped: set[str] = set()
        self.progress: dict[str, dict] = {}
        self.masters: dict[str, str] = {}

    def stop(self, slug: str) -> None:
        self.stopped.add(slug)

    def report(self, slug: str, progress: dict) -> bool:
        """Note a cell's progress; whether the driver wants it stopped."""
        self.progress[slug] = progress
        return slug in self.stopped

    def snapshot(self) -> dict[str, dict]:
        return dict(self.progress)

    def set_master(self, slug: str, address: str) -> None:
        self.masters[slug] = address

    def master(self, slug: str) -> str | None:
        return self.masters.get(slug)


def _node_root() -> Path:
    """$ZOO_RAY_DIR (passed on from the driver), else $TMPDIR/zoo-ray on each node."""
    return Path(os.environ.get("ZOO_RAY_DIR") or Path(tempfile.gettempdir()) / "zoo-ray")


def _data_folder(blob: bytes | None) -> str | None:
    """The dataset's files on this node, unpacked once per content for every task here."""
    if blob is None:
        return None
    from zoo.exec.artifacts import unpack

    folder = _node_root() / "data" / hashlib.sha256(blob).hexdigest()[:16]
    if not folder.is_dir():
        partial = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        unpack(blob, partial)
        try:
            os.rename(partial, folder)
        except OSError:  # another task here was first: same content
            shutil.rmtree(partial, ignore_errors=True)
    return str(folder)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def _master(spec: dict, control) -> str:
    """Rank 0 names the master (this node, a free port); the other ranks wait for it."""
    import ray

    if spec["node_rank"] == 0:
        # The address Paddle itself finds for this machine: launch starts the master only
        # on the node whose own address (or 127.0.0.1) is the master's host.
        try:
            host = socket.gethostbyname(socket.getfqdn(socket.gethostname()))
        except OSError:
            host = ray.util.get_node_ip_address()
        address = f"{host}:{_free_port()}"
        ray.get(control.set_master.remote(spec["slug"], address))
        return address
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        address = ray.get(control.master.remote(spec["slug"]))
        if address:
            return address
        time.sleep(0.2)
    raise RuntimeError("the cell's rank-0 node never named its master")


def _launcher(spec: dict, registry_file: Path, control):
    from zoo.plugin import load_catalog

    params = dict(spec["launcher_params"])
    if spec["nnodes"] > 1:
        params.update(nnodes=spec["nnodes"], node_rank=spec["node_rank"],
                      master=_master(spec, control))
    catalog = load_catalog(str(registry_file), check=False)
    return catalog.build("launchers", spec["launcher"], params)


def run_cell(spec: dict, inputs: bytes, registry: str, data: bytes | None, control) -> dict:
    """Run one cell here; how it ended, where, and its folder's files (``pack``)."""
    import ray

    from zoo.exec.artifacts import pack, unpack
    from zoo.exec.local import write_launch_time
    from zoo.exec.process import Watch, start_process
    from zoo.identity import paddle_version
    from zoo import __version__
    from zoo.job import Job
    from zoo.train.progress import read_progress

    # Nodes may share an address (several on one machine): the node id tells them apart.
    here = f"{ray.util.get_node_ip_address()} ({ray.get_runtime_context().get_node_id()[:8]})"
    mine = (__version__, paddle_version())
    if mine != tuple(spec["versions"]):
        raise RuntimeError(f"node {here} has zoo {mine[0]} and Paddle {mine[1]}; the driver has "
                           f"zoo {spec['versions'][0]} and Paddle {spec['versions'][1]}")
    folder = _node_root() / spec["sweep"] / f"{spec['slug']}-node{spec['node_rank']}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        unpack(inputs, folder)
        (folder / "registry.toml").write_text(registry)
        job = Job.from_dict({**spec["job"], "out": str(folder), "data_dir": _data_folder(data),
                             "registry_file": str(folder / "registry.toml")})
        run = RunDir(folder)
        job_file = run.job_file
        run.write_job(job)  # the node's own copy, as the runner writes it at home
        launcher = _launcher(spec, folder / "registry.toml", control)
        command = launcher.command(job_file, spec["nprocs"], spec["device"], run.launcher_logs)
        write_launch_time(folder)
        env = {**os.environ, "OMP_NUM_THREADS": str(job.threads)}
        watch = Watch(start_process(command, run.log_file, env=env, cwd=folder),
                      spec["timeout"], spec["grace"])
        outcome = None
        while outcome is None:
            progress = {**(read_progress(run.progress_file) or {}), "node": here}
            if ray.get(control.report.remote(spec["slug"], progress)):
                watch.stop()
            outcome = watch.poll(POLL)
        own = {layout.JOB, "registry.toml"}
        return {"outcome": [outcome.returncode, outcome.timed_out, outcome.stopped, outcome.seconds],
                "host": platform.node(), "node": here,
                "artifacts": pack(folder, include=lambda relative: relative not in own)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # the sweep's folder on this node, once its last cell left
        except OSError:
            pass
