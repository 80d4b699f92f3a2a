"""Search strategies: which cells a sweep runs (``zoo.Searcher``, ``zoo bench --search NAME``).

The base class is zoo's own grid (``--search grid``, the default): every cell of the
expanded grid, enumerated by zoo itself, in order (Optuna's GridSampler repeats points when
run in parallel).  A searcher that ``samples`` picks ``--trials N`` points of the sweep's
space instead.  The space maps each varied name to a ``Choice`` or a ``Range`` (both
exported here): a swept kind's selection (``"models"``: ``Choice(("mlp", "cnn"))``), an
entry parameter (``"optimizer.learning_rate"``: ``Range(1e-4, 1e-1, log=True)``) or a
shared number (``"epochs"``, ``"batch_size"``).  A point gives every name a value; zoo
turns it into a cell (the values an entry does not take are left out, so two points can
be one cell: zoo runs it once).

The runner calls, from one thread:

``open(folder, space, seed)``   once: the sweep folder (where the searcher keeps its own
                                state, never in results.db), the space, and the sweep's
                                seed (the default of a seeded searcher's own); returns the
                                trials of earlier sessions (``Trial``), finished or not
``ask()``                       the next point as a new ``Trial``, or None: no more
``started(trial, name)``        the cell the trial runs as, before it starts: ``name`` is
                                stable across sessions (the cell's key and seed)
``tell(trial, status, value)``  once the cell ended for good: ``"complete"`` with its
                                final validation accuracy (higher is better), ``"pruned"``
                                or ``"failed"`` (value None)
``close()``                     once, always

``adaptive`` False (the answers of ``ask`` do not depend on ``tell``): zoo asks for every
trial before anything runs, tells nothing, and runs those cells exactly like a grid;
reruns ask again and must get the same points in the same order (seeded).  ``adaptive``
True: zoo asks only when a cell can start, so a sampler learns from every cell that ended;
a trial from ``open`` that is not told yet runs again (its cell resumes from its
checkpoint), and no new trial is asked once ``--trials`` distinct cells exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.bench.space import Axis, Choice, Range


@dataclass
class Trial:
    """One point a searcher asked for: ``number`` is the searcher's own id of it."""

    number: int
    point: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # the cell it runs as (``started``), once known
    state: str | None = None  # None while not told; else "complete", "pruned" or "failed"
    value: float | None = None  # what a "complete" trial was told


class Searcher:
    """zoo's grid: every cell of the expanded grid, in order (``--search grid``)."""

    samples = False  # False: zoo enumerates the grid itself; --trials is refused
    adaptive = False

    def open(self, folder: Path, space: dict[str, Axis], seed: int) -> list[Trial]:
        return []

    def ask(self) -> Trial | None:
        return None

    def started(self, trial: Trial, name: str) -> None:
        trial.name = name

    def tell(self, trial: Trial, status: str, value: float | None) -> None:
        trial.state, trial.value = status, value

    def close(self) -> None:
        pass


__all__ = ["Axis", "Choice", "Range", "Searcher", "Trial"]
