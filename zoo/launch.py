"""Launch strategies: how the processes of one job start.

Every launcher runs the same code (``zoo.worker`` → ``zoo.train.train``); a launcher only
builds the command line.  ``zoo.process`` starts and watches it.

The worker's contract, for the built-in launchers and any plugin's:

* command line: ``WORKER_COMMAND + [JOB]`` (one process, rank from Paddle's variables
  ``PADDLE_TRAINER_ID``/``PADDLE_TRAINERS_NUM``, else rank 0 of 1) or ``WORKER_COMMAND +
  ["--spawn", N, JOB]`` (N ranks via ``paddle.distributed.spawn``); ``JOB`` is an absolute
  path.  Never ``python -m zoo.worker``: ``-m`` puts the caller's cwd first on sys.path, so
  a ``paddle.py`` in the folder ``zoo bench`` runs from would run.  Other modules start
  through ``zoo.process.python_module`` (how ``paddle.distributed.launch`` starts).
* working directory: the cell's own folder (``runner`` passes it as ``cwd``); every path
  in the job file is absolute, and so are ``$ZOO_DATA_DIR``, ``$ZOO_REGISTRY`` and
  ``$PYTHONPATH`` (``zoo.process.child_env``).
* environment: the runner's, plus whatever the launcher's own tool sets.
* stdout and stderr: the cell's ``worker.log``.  Rank 0 leaves ``metrics.json`` in the
  job's ``out`` with a final status; exit code 0 only for status ``ok``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from zoo.process import python_module, python_script

WORKER_COMMAND = python_script("zoo_worker.py")


class Launcher:
    """Base class: subclasses say how to start ``nprocs`` workers for a job file."""

    name = "?"
    max_nprocs: int | None = None
    # One plain ``zoo.worker`` process: the runner may fork it from a warm fork server.
    forkable = False

    def problem(self, nprocs: int, device: str) -> str | None:
        """Why this launcher cannot run ``nprocs`` processes on ``device`` (None if it can)."""
        if self.max_nprocs is not None and nprocs > self.max_nprocs:
            return f"launcher '{self.name}' runs {self.max_nprocs} process; use spawn or launch for --nprocs {nprocs}"
        return None

    def command(self, job_file: Path, nprocs: int, device: str, log_dir: Path) -> list[str]:
        raise NotImplementedError


class SingleLauncher(Launcher):
    name = "single"
    max_nprocs = 1
    forkable = True

    def command(self, job_file, nprocs, device, log_dir):
        return [*WORKER_COMMAND, str(job_file)]


class SpawnLauncher(Launcher):
    name = "spawn"

    def command(self, job_file, nprocs, device, log_dir):
        return [*WORKER_COMMAND, "--spawn", str(nprocs), str(job_file)]


@dataclass
class DistributedLaunchLauncher(Launcher):
    master_port: int = 0
    name = "launch"

    def command(self, job_file, nprocs, device, log_dir):
        cmd = python_module("paddle.distributed.launch", "--nproc_per_node", str(nprocs),
                            "--log_dir", str(log_dir))
        if device.startswith("gpu"):
            first = int(device.partition(":")[2] or 0)
            cmd += ["--devices", ",".join(str(first + i) for i in range(nprocs))]
        if self.master_port:
            cmd += ["--start_port", str(self.master_port)]
        # launch runs `python -u FILE`, so it gets the file, not WORKER_COMMAND.
        return cmd + [WORKER_COMMAND[-1], str(job_file)]


def last_error_line(log_file: Path, limit: int = 64_000) -> str:
    """The most telling line of a worker log: the last error, else the last line."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - limit))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error:" in line or "Killed" in line:
            return line[:300]
    # Else the last line that is not noise: Python warnings (paddle's "No ccache found"
    # and its "warnings.warn(...)" source line) and glog INFO/WARNING lines said nothing
    # about why a worker died, yet used to become the reason of every exit-code failure.
    for line in reversed(lines):
        if not (_NOISE.search(line) or line.startswith("warnings.warn(")):
            return line[:300]
    return ""


_NOISE = re.compile(r"Warning: |^[IW]\d{4} \d\d:\d\d:\d\d")
