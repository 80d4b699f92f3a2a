"""Synchronous successive halving (``zoo bench --prune sha``): rank every cell at a rung
before any of them goes on.

Asynchronous halving (``asha``, Optuna's) decides each cell the moment it reaches a rung,
against the cells that happened to get there first, so on a grid run in order the answer
depends on the order: in a grid listed sgd, momentum, adam, each better cell arrives after
the worse ones and goes on (benchmarks/RESULTS.md, prune-fashion-cnn-8epochs).  A grid's
cells are all known up front, and zoo already pauses a cell at a rung with its
checkpoint, so it can do what successive halving first meant: hold every cell at the
rung (``should_prune`` answers None), and once nothing else can run, keep the best
``1/reduction_factor`` of the cells that reached it (at least one) and stop the rest
(``settle``).  The result does not depend on the order, the jobs or the executor.

Rungs are asha's: epochs ``min_resource * reduction_factor**k`` below a cell's epochs
(1 and 3 for 8 epochs with the defaults).  A cell that reaches a rung after it was settled
(a cell added to the grid, or retried) is ranked against every value recorded there.

State: ``halving.json`` in the sweep folder, rewritten atomically at each change: per
trial the accuracy at each rung it reached, the rungs it was let go on from, and its end.
A decision is on disk before the runner acts on it, so a runner killed at any point asks
again on the rerun and gets the same answer.  No extra library: it works without Optuna.
"""

from __future__ import annotations

import json
from pathlib import Path

from zoo.atomic import write_json_atomic
from zoo.bench.optuna_pruner import rung_epochs
from zoo.errors import ConfigError
from zoo.pruner import Pruner

STATE_FILE = "halving.json"


class SyncHalving(Pruner):
    """Keep the top ``1/reduction_factor`` at each rung, deciding all cells there at once."""

    def __init__(self, min_resource: int = 1, reduction_factor: int = 3) -> None:
        for name, value, least in (("min_resource", min_resource, 1), ("reduction_factor", reduction_factor, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"--set pruner.{name}={value!r}: must be a whole number >= {least}")
        self.reduction_factor = reduction_factor
        self._rule = rung_epochs(min_resource, reduction_factor, 0)
        self._path: Path | None = None
        self._trials: dict[str, dict] = {}  # name -> {"values": {epoch: acc}, "went_on": [...], "end": ...}

    def open(self, folder: Path) -> None:
        self._path = Path(folder) / STATE_FILE
        try:
            found = json.loads(self._path.read_text())
        except FileNotFoundError:
            found = {"trials": {}}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self._path} is not readable ({exc}); "
                              "rerun with --force to start the sweep afresh") from None
        self._trials = {name: {"values": {int(e): v for e, v in t.get("values", {}).items()},
                               "went_on": [int(e) for e in t.get("went_on", [])], "end": t.get("end")}
                        for name, t in found.get("trials", {}).items()}

    def decision_epochs(self, epochs: int) -> tuple[int, ...]:
        return tuple(e for e in self._rule(epochs) if e < epochs)

    def decided(self, trial: str) -> str | None:
        return self._trials.get(trial, {}).get("end")

    def should_prune(self, trial: str, values: list[float]) -> bool | None:
        if not values or values[-1] is None:  # no validation split: nothing to rank by
            return False
        epoch, known = len(values), self._trial(trial)
        if epoch in known["went_on"]:  # settled before a crash: the same answer
            return False
        if known["values"].get(epoch) != values[-1]:
            known["values"][epoch] = float(values[-1])
            self._save()
        return None

    def held(self, trial: str) -> bool:
        known = self._trials.get(trial)
        return known is not None and known["end"] is None and any(
            e not in known["went_on"] for e in known["values"])

    def settle(self, held: dict[str, list[float]]) -> dict[str, bool]:
        answers: dict[str, bool] = {}
        for trial, values in held.items():
            if values and values[-1] is not None:
                self._trial(trial)["values"][len(values)] = float(values[-1])
        for epoch in sorted({len(v) for t, v in held.items() if v and v[-1] is not None}):
            # Everyone with an accuracy at this rung competes, held or decided before; ties
            # go to the trial named first, so the same values always give the same cells.
            ranked = sorted((-t["values"][epoch], name) for name, t in self._trials.items()
                            if epoch in t["values"])
            kept = {name for _, name in ranked[:max(1, len(ranked) // self.reduction_factor)]}
            for trial, values in held.items():
                if len(values) == epoch and values[-1] is not None:
                    answers[trial] = trial not in kept
                    if trial in kept:
                        self._trials[trial]["went_on"].append(epoch)
                    else:  # final now, in the same write: a rerun never ranks it again
                        self._trials[trial]["end"] = "pruned"
        self._save()
        return answers

    def tell(self, trial: str, status: str, values: list[float]) -> None:
        known = self._trial(trial)
        if known["end"] is None:
            known["end"] = status if status in ("complete", "pruned") else "failed"
            self._save()

    def _trial(self, name: str) -> dict:
        return self._trials.setdefault(name, {"values": {}, "went_on": [], "end": None})

    def _save(self) -> None:
        if self._path is not None:
            write_json_atomic(self._path, {"trials": {
                name: {"values": {str(e): v for e, v in sorted(t["values"].items())},
                       "went_on": sorted(t["went_on"]), "end": t["end"]}
                for name, t in sorted(self._trials.items())}})
