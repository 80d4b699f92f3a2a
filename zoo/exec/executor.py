"""Executors: where the cells of a sweep run, and how many at once (``zoo.Executor``).

A launcher decides *how* one cell's processes start (its command line); an executor
decides *where* that command runs and how many cells run at the same time.  The runner
keeps everything else, whatever the executor, so its guarantees hold for all of them:

* the runner alone writes the results store (one row per cell and seed) and decides
  every status; an executor only reports how a cell's processes ended;
* a cell's artifacts end in the driver's ``DIR/cells/<cell>/``: an executor that runs a
  cell on another machine brings back its metrics.json, checkpoints and logs before it
  reports the end, and gives the cell the folder's newest checkpoint when it resumes;
* where a cell runs never changes its numbers: the executor is no part of a result's
  identity.  The threads per process are (Paddle's CPU kernels give other bits with
  other thread counts), so ``threads`` is the executor's to choose, the cell's to record.

The runner drives an executor from one thread, never waiting on it for long:

``check()``          before the preflight: a ZooError if it cannot run here at all
``open(out, ...)``   once, before the first cell (start pools, connect to a cluster)
``problem(cell)``    why it can never run this cell (the cell is then ``skipped``), or None
``room_for(cell)``   whether the cell can start now, beside the cells already running
``start(task)``      start the cell (asked only when there is room, or nothing runs):
                     its ``Running`` handle
``close()``          once, always; nothing it started may outlive it

and each ``Running`` handle:

``where``            the slot or node it runs on (progress lines, the store's ``node``)
``poll(wait)``       None while it runs (waiting at most ``wait`` s), then its ``CellEnd``
``stop()``           stop it cleanly: its workers checkpoint; ``poll`` then reports the end
``progress()``       the worker's progress.json contents (epoch, step), or None
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from zoo.bench.grid import Cell
    from zoo.exec.launch import Launcher
    from zoo.exec.process import Outcome
    from zoo.job import Job


# The executor a sweep uses unless told otherwise: a name the catalogue resolves like any
# other (``zoo.plugins.executors`` registers it), never a class core code imports.
DEFAULT_EXECUTOR = "local"


@dataclass(frozen=True)
class CellTask:
    """One cell, ready to run: its job file is written, its row says ``running``."""

    cell: Cell
    cell_dir: Path  # the driver's DIR/cells/<cell>/ (absolute); job.json is in it
    job: Job  # as written to cell_dir/job.json
    launcher: Launcher  # the cell's, built
    timeout: float | None  # --cell-timeout: the executor stops the cell after it
    grace: float  # seconds a stopped cell has to checkpoint before it is killed


@dataclass(frozen=True)
class CellEnd:
    """How a cell's processes ended, once its artifacts are in the driver's cell folder."""

    outcome: Outcome
    where: str  # the slot or node it ran on
    host: str  # the machine that ran it
    shared: bool  # other cells could run on that machine at the same time
    lost: str = ""  # why the executor lost the cell (its node died), else ""


class Running(Protocol):
    """The handle ``Executor.start`` returns for one cell (see the module's contract)."""

    where: str

    def poll(self, wait: float) -> CellEnd | None: ...
    def stop(self) -> None: ...
    def progress(self) -> dict | None: ...


class Executor:
    """Where cells run; subclass it (see the module's contract)."""

    name = "?"
    threads: int = 1  # threads per training process of every cell it runs
    here = True  # runs cells on this machine: a device it lacks makes its cells skipped

    def check(self) -> None:
        """Raise a ZooError when this executor cannot work here (a missing extra...)."""

    def open(self, out: Path, planned: list[tuple] = (), warm: bool = True) -> None:
        """Called once before the first cell, with the sweep's folder, the (cell, launcher)
        pairs it will be asked to run, and whether one-process cells may be forked warm
        (``--cold-start`` says no)."""

    def problem(self, cell) -> str | None:
        """Why ``cell`` can never run on this executor (it is then ``skipped``), or None."""
        return None

    def room_for(self, cell) -> bool:
        """Whether ``cell`` can start now beside the running ones (one at a time: no)."""
        return False

    def start(self, task: CellTask) -> Running:
        raise NotImplementedError(f"{type(self).__name__} must define start()")

    def close(self) -> None:
        """Stop whatever still runs; called once, also after an error."""


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity), in order."""
    return sorted(os.sched_getaffinity(0))
