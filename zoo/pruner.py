"""Pruners: early stopping for a sweep's cells (``zoo.Pruner``, ``zoo bench --prune NAME``).

A pruner decides, after a cell's validation at the end of an epoch, whether the cell goes
on or stops with status ``pruned`` (or waits there for the others: ``settle`` below).  The runner keeps everything else: it runs a cell up
to the next epoch the pruner wants to decide at (the worker checkpoints there and ends
``paused``), asks the pruner, then starts the cell again, which resumes bit for bit where
it stopped, or records it ``pruned``.  So every executor works unchanged, and a pruned
cell keeps its checkpoint: ``--retry pruned`` resumes it to its full epochs.

The runner calls, from one thread:

``open(folder)``                  once, before any cell: the sweep folder, where the pruner
                                  keeps its own state (never in results.db)
``decision_epochs(epochs)``       per cell start: the epochs (1-based, each < ``epochs``)
                                  after whose validation it wants to decide; () never pauses
``decided(trial)``                what was told of the trial in any session (``"pruned"``,
                                  ``"complete"``, ``"failed"``) or None: a decided cell is
                                  never asked again and runs to its end without pausing
``should_prune(trial, values)``   at each of those epochs: ``values`` are the validation
                                  accuracies of the epochs so far (higher is better).
                                  True stops the cell, False lets it go on; None holds it
                                  there (paused, with its checkpoint) until ``settle``
``held(trial)``                   on a rerun, per cell not finished: is the trial waiting
                                  at an epoch for ``settle``?  The runner holds it again
                                  instead of starting it
``settle(held)``                  once no cell runs and none waits to start, if some are
                                  held: ``held`` maps each held trial to its values; the
                                  answer maps each to True (stop) or False (go on); a trial
                                  left out goes on.  A decision must be durable when
                                  ``settle`` returns: a runner killed after it asks again.
                                  A spent budget or a signal leaves the held cells
                                  ``interrupted`` instead, to be held again by a rerun
``tell(trial, status, values)``   once a cell ends for good: ``"complete"``, ``"pruned"``
                                  or ``"failed"``, with its validation accuracies
``close()``                       once, always

``trial`` names a cell and its seed; it is the same in every session of the sweep, so a
pruner that keeps state resumes its decisions after a crash and never counts a cell twice.

Holding is what a synchronous pruner needs (``sha``: rank every cell at a rung before any
goes on); an asynchronous one (``asha``) answers at once and never holds.
"""

from __future__ import annotations

from pathlib import Path


class Pruner:
    """Never prunes: every cell trains to its end, in one piece (``--prune none``)."""

    def open(self, folder: Path) -> None:
        pass

    def decision_epochs(self, epochs: int) -> tuple[int, ...]:
        return ()

    def decided(self, trial: str) -> str | None:
        return None

    def should_prune(self, trial: str, values: list[float]) -> bool | None:
        return False

    def held(self, trial: str) -> bool:
        return False

    def settle(self, held: dict[str, list[float]]) -> dict[str, bool]:
        return {}

    def tell(self, trial: str, status: str, values: list[float]) -> None:
        pass

    def close(self) -> None:
        pass


__all__ = ["Pruner"]
