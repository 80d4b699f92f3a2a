"""The run and sweep folder contract: every name zoo gives a file there, spelled once.

A run folder (``zoo train --out DIR``, and every cell of a sweep) holds:

==============  =============================================================================
job.json        what to train; written once, before training, by whoever starts the run (a
                sweep's runner; ``zoo train`` once the run is built); the worker only reads it
metrics.json    the result so far, then the final status (the worker's rank 0)
progress.json   where training is, rewritten twice a second for a watching runner
launch.json     the launch stamp: when the executor started the worker, whose start-up
                time counts from it (a plain ``zoo train`` has none)
worker.log      the worker processes' stdout and stderr (the executor)
logs/           the launcher's own per-rank logs (``launch``: paddle.distributed.launch)
checkpoints/    ``zoo.checkpoint``'s store: one ``step-NNNNNNNNN`` folder per save
vdl/            VisualDL scalars
replicas/       each rank's final parameter digest (runs of several processes)
==============  =============================================================================

A sweep folder holds ``results.db`` (``zoo.bench.store``) and ``cells/<slug>/``, one run
folder per cell.  Here are the names, and the two small files written and read in different
rooms (job.json, the launch stamp); what the others hold is their writer's business.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoo.job import Job

JOB = "job.json"
METRICS = "metrics.json"
PROGRESS = "progress.json"
LAUNCH = "launch.json"
WORKER_LOG = "worker.log"
LAUNCHER_LOGS = "logs"
CHECKPOINTS = "checkpoints"
VDL = "vdl"
REPLICAS = "replicas"
RESULTS_DB = "results.db"
CELLS = "cells"


@dataclass(frozen=True)
class RunDir:
    """One run's folder (a ``zoo train`` run or a sweep's cell)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def job_file(self) -> Path:
        return self.path / JOB

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def progress_file(self) -> Path:
        return self.path / PROGRESS

    @property
    def launch_file(self) -> Path:
        return self.path / LAUNCH

    @property
    def log_file(self) -> Path:
        return self.path / WORKER_LOG

    @property
    def launcher_logs(self) -> Path:
        return self.path / LAUNCHER_LOGS

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def vdl(self) -> Path:
        return self.path / VDL

    def replica_file(self, rank: int) -> Path:
        return self.path / REPLICAS / f"rank-{rank}.json"

    def is_run(self) -> bool:
        """A run has begun here: it has its job or has left a result."""
        return self.job_file.is_file() or self.metrics_file.is_file()

    def write_job(self, job: Job) -> None:
        """The run's one job.json (see the module's table for who calls this)."""
        from zoo.atomic import write_text_atomic

        write_text_atomic(self.job_file, job.to_json())

    def stamp_launch(self) -> None:
        """Note that the worker is being launched now."""
        from zoo.atomic import write_json_atomic

        write_json_atomic(self.launch_file, {"launched_at": time.time()})

    def launched_at(self) -> float | None:
        """The launch stamp's time (unix seconds), None without a readable one."""
        try:
            return float(json.loads(self.launch_file.read_text())["launched_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class SweepDir:
    """A sweep's folder: its results store and its cells' run folders."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def results_db(self) -> Path:
        return self.path / RESULTS_DB

    @property
    def cells(self) -> Path:
        return self.path / CELLS

    def cell(self, slug: str) -> RunDir:
        return RunDir(self.cells / slug)

    def is_sweep(self) -> bool:
        return self.results_db.is_file()
