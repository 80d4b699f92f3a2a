"""Early stopping in a sweep: the runner's side of a ``zoo.Pruner``.

How a cell is pruned without a new channel between runner and worker, on any executor:
the runner starts the cell with ``Job.pause_epochs`` (the epochs the pruner wants to
decide after; no part of the cell's identity), the worker validates, checkpoints and ends
``paused`` there, and the runner asks the pruner with the validation accuracies so far.
Go on: the cell goes back to the front of the queue and resumes from that checkpoint, bit
for bit as if it had never stopped.  Stop: its row becomes ``pruned`` ("stopped at epoch 2
of 9 by asha"), with its checkpoint and metrics so far; ``--retry pruned`` resumes it to
its full epochs, never paused again (its trial is decided).

Hold: a synchronous pruner (``sha``) answers "not yet"; the cell stays paused at that
epoch, its row ``running``, until no cell runs and none waits to start, when the runner
asks ``settle`` for every held cell at once.  A rerun holds again the cells the pruner
says still wait (``holds``), instead of starting them past their decision.

Order of writes: the pruner is told first, the store second, so a runner killed between
the two leaves a row ``running`` (or ``interrupted``, when a settle of cells a budget had
left held was cut short) whose trial is decided; ``open`` repairs that, and decides a
cell whose last session ended ``paused`` but was never asked about.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from zoo.bench.grid import Cell
from zoo.bench.outcome import result_values
from zoo.bench.store import Store
from zoo.layout import RunDir, SweepDir
from zoo.pruner import Pruner
from zoo.status import Status


def trial_name(cell: Cell) -> str:
    """A cell and seed, the same in every session of the sweep."""
    return f"{cell.key}:{cell.seed}"


def val_accs(metrics: dict | None) -> list:
    return [e.get("val_acc") for e in (metrics or {}).get("epochs") or []]


def _metrics(cell_dir: Path) -> dict | None:
    try:
        return json.loads(RunDir(cell_dir).metrics_file.read_text())
    except (OSError, ValueError):
        return None


class Pruning:
    """A sweep's pruner (``name``, as ``--prune`` chose it) as the runner uses it."""

    def __init__(self, pruner: Pruner, name: str = "none") -> None:
        self.pruner, self.name = pruner, name

    def open(self, out: Path, store: Store, cells: list[Cell], force: bool = False,
             study_kept: bool = False, search=None) -> None:
        """``study_kept``: a search started the shared study afresh already (``--force``);
        ``search``: told of a decision a killed runner did not record, as of any end."""
        if force:  # every cell trains again from scratch: no old decision may stand
            from zoo.bench.optuna_pruner import STUDY_FILE  # a name only: Optuna is not imported
            from zoo.bench.sha_pruner import STATE_FILE

            (out / STATE_FILE).unlink(missing_ok=True)
            if not study_kept:
                (out / STUDY_FILE).unlink(missing_ok=True)
        self.out, self.search = out, search
        self.pruner.open(out)
        for cell in cells:
            status = (store.row(cell) or {}).get("status")
            # interrupted: left paused by a spent budget or a signal, then decided by a
            # rerun's settle that was killed before it recorded the row
            if status == Status.RUNNING or (status == Status.INTERRUPTED
                                            and self.pruner.decided(trial_name(cell)) == "pruned"):
                self._repair(cell, SweepDir(out).cell(cell.slug).path, store)

    def _repair(self, cell: Cell, cell_dir: Path, store: Store) -> None:
        """A row a killed runner left behind after its cell paused."""
        metrics = _metrics(cell_dir)
        if (metrics or {}).get("status") != Status.PAUSED:
            return
        status, reason = self.decide(cell, metrics)
        if status is Status.PRUNED:
            record_pruned(cell, reason, metrics, store, self.search)

    def pause_epochs(self, cell: Cell) -> tuple[int, ...]:
        if self.pruner.decided(trial_name(cell)) is not None:
            return ()
        return tuple(self.pruner.decision_epochs(cell.epochs))

    def decide(self, cell: Cell, metrics: dict | None) -> tuple[Status, str]:
        """PRUNED with its reason, PAUSED: resume it, or HELD: wait for ``settle``."""
        trial, values = trial_name(cell), val_accs(metrics)
        decided = self.pruner.decided(trial)
        # A decided trial is never asked again: "pruned" stays pruned, any other end goes on.
        answer = self.pruner.should_prune(trial, values) if decided is None else decided == "pruned"
        if answer is None:
            return Status.HELD, ""
        return self._outcome(cell, trial, values, answer)

    def _outcome(self, cell: Cell, trial: str, values: list, prune: bool) -> tuple[Status, str]:
        if prune:
            self.pruner.tell(trial, "pruned", values)
            return Status.PRUNED, f"stopped at epoch {len(values)} of {cell.epochs} by {self.name}"
        return Status.PAUSED, ""

    def holds(self, cell: Cell) -> bool:
        """Is this unfinished cell waiting at an epoch for ``settle`` (from a past session)?"""
        return self.pruner.decided(trial_name(cell)) is None and self.pruner.held(trial_name(cell))

    def settle(self, cells: list[Cell]) -> list[tuple[Status, str, dict | None]]:
        """Decide every held cell at once: (PRUNED and its reason, or PAUSED, metrics) each."""
        metrics = [_metrics(SweepDir(self.out).cell(c.slug).path) for c in cells]
        answers = self.pruner.settle({trial_name(c): val_accs(m) for c, m in zip(cells, metrics)})
        return [(*self._outcome(c, trial_name(c), val_accs(m), bool(answers.get(trial_name(c)))), m)
                for c, m in zip(cells, metrics)]

    def ended(self, cell: Cell, status: Status, metrics: dict | None) -> None:
        """Tell the pruner a final end (before the store records it)."""
        told = {Status.OK: "complete", Status.DIVERGED: "failed"}.get(status)
        if told and self.pruner.decided(trial_name(cell)) is None:
            self.pruner.tell(trial_name(cell), told, val_accs(metrics))

    def close(self) -> None:
        self.pruner.close()


def left_paused(cell: Cell, store: Store, why: str) -> None:
    """A paused cell the sweep will not resume now (budget spent, or a signal): it stays
    to be resumed by a rerun, from its checkpoint."""
    row = store.row(cell) or {}
    store.record(cell, status=Status.INTERRUPTED, ended_at=_now(),
                 reason=f"{why} after epoch {row.get('epochs_done') or 0} of {cell.epochs}; "
                        "rerun to go on")


def settle_held(held: list, pruning: Pruning, store: Store, reporter, search=None) -> list:
    """The pruner's decision on every held ``(index, cell)``: record the stopped ones
    (the search told first, as for any end), return those going on, in order."""
    going = []
    for (index, cell), (status, reason, metrics) in zip(held, pruning.settle([c for _, c in held])):
        if status is not Status.PRUNED:
            going.append((index, cell))
            continue
        record_pruned(cell, reason, metrics, store, search)
        reporter.cell_end(cell, store.row(cell))
    return sorted(going, key=lambda item: item[0])


def record_pruned(cell: Cell, reason: str, metrics: dict | None, store: Store, search=None) -> None:
    """A pruned end the pruner has been told: the search next (as for any end), the store last."""
    if search:
        search.ended(cell, Status.PRUNED, metrics)
    store.record(cell, status=Status.PRUNED, reason=reason, ended_at=_now(), **result_values(metrics))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_pruning(catalog, name: str, sets: list[str]) -> Pruning:
    """``--prune NAME`` with ``--set pruner.P=V``: the pruner, or a one-line error."""
    from zoo.errors import ConfigError, RegistryError
    from zoo.job import parse_sets

    known = catalog.registry.names("pruners")
    if name not in known:
        raise ConfigError(f"--prune {name}: unknown pruner (known: {', '.join(known) or 'none'})")
    try:
        pruner = catalog.build("pruners", name, parse_sets(sets).get("pruners", {}))
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    return Pruning(pruner, name)
