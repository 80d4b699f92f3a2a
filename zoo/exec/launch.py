"""The launcher contract: how the processes of one training job start.

The public contract, for the built-in launchers (``zoo.plugins.launchers``) and any
plugin's (``zoo.Launcher``, ``zoo.worker_command``, ``zoo.WORKER_SCRIPT``,
``zoo.python_module``):

* A launcher builds a command line; it starts nothing itself.  ``command(job_file,
  nprocs, device, log_dir)`` returns it.  zoo runs it in a process group of its own, in
  the cell's folder, with stdout and stderr in the cell's ``worker.log``; it stops the
  whole group on a timeout or Ctrl-C, and every process dies with zoo.
* Every training process runs the worker: ``worker_command(job_file)`` is one process
  (rank from Paddle's ``PADDLE_TRAINER_ID``/``PADDLE_TRAINERS_NUM``, else rank 0 of 1);
  ``worker_command(job_file, nprocs=N)`` is N ranks through ``paddle.distributed.spawn``;
  a tool that wants a script file (as ``paddle.distributed.launch`` does) gets
  ``zoo.WORKER_SCRIPT`` and the job file as its arguments.  A launcher may put anything in
  front (``nice``, ``taskset``, a container runtime) and set environment variables.
* A command that is exactly ``worker_command(job_file)`` may instead be forked from zoo's
  warm process that already has paddle imported, which saves each cell a second or two
  of start-up; any other command runs as given.  That is the whole of "forkable".
* ``max_nprocs``: the most processes the launcher can run (None: no limit).  A launcher
  with ``max_nprocs == 1`` is a one-process launcher: a grid with ``--nprocs N`` runs it
  with one process, as every grid's single-process baseline.
* ``problem(nprocs, device)`` says why it cannot run that (None if it can); the sweep's
  preflight calls it before anything trains.
* The worker's side: the job file and every path in it are absolute; so are
  ``$ZOO_DATA_DIR``, ``$ZOO_REGISTRY`` and ``$PYTHONPATH`` (``zoo.exec.process.child_env``).
  Rank 0 leaves ``metrics.json`` in the job's ``out`` with a final status; a process's
  exit code is ``zoo.status.ExitCode.of_run(status)`` (0 only for ``ok``).
* Never ``python -m ...`` for anything zoo runs: ``-m`` puts the caller's working
  directory first on sys.path, so a ``paddle.py`` lying there would run.  Modules start
  through ``zoo.python_module(module, *args)``.
"""

from __future__ import annotations

from pathlib import Path

from zoo.exec.process import python_script

WORKER_SCRIPT = python_script("zoo_worker.py")[-1]


def worker_command(job_file: Path | str, nprocs: int | None = None) -> list[str]:
    """The command that trains ``job_file``: one process, or ``nprocs`` spawned ranks."""
    spawn = ["--spawn", str(nprocs)] if nprocs is not None else []
    return python_script("zoo_worker.py", *spawn, str(job_file))


class Launcher:
    """How the processes of one training job start; subclass it (see the module's contract)."""

    max_nprocs: int | None = None

    def problem(self, nprocs: int, device: str) -> str | None:
        """Why this launcher cannot run ``nprocs`` processes on ``device`` (None if it can)."""
        if self.max_nprocs is not None and nprocs > self.max_nprocs:
            return (f"this launcher runs at most {self.max_nprocs} process"
                    f"{'es' if self.max_nprocs != 1 else ''}; --nprocs {nprocs} needs another")
        return None

    def command(self, job_file: Path, nprocs: int, device: str, log_dir: Path) -> list[str]:
        """The command line that trains ``job_file`` with ``nprocs`` processes on ``device``.

        ``log_dir`` is a folder of the cell's own for per-rank logs, if the tool writes any.
        """
        raise NotImplementedError(f"{type(self).__name__} must define command()")


def forkable(command: list[str], job_file: Path) -> bool:
    """Whether ``command`` is the plain one-process worker, which zoo may fork warm."""
    return command == worker_command(job_file)
