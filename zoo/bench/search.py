"""Search in a sweep: the runner's side of a ``zoo.Searcher``.

The space a searcher samples is the grid's: each swept kind of several selected entries
(``"models"``), each parameter axis (``[space]``, ``--set`` lists; a range need not say how
many points), ``epochs`` and ``batch_size``.  A point becomes a cell through the grid's own
expansion (``zoo.bench.grid.expand`` of a one-point spec), so a searched cell has the same
key, folder name, identity and table columns as the grid's cell of the same settings.

Two points that give one cell (a value the entry does not take, a repeated draw) run once
and count once: ``--trials N`` is N distinct cells.  A non-adaptive searcher (random) is
asked for all of them before anything runs, so its sweep is a plain grid of those cells.
An adaptive one (Optuna) is asked by the runner whenever a cell can start
(``AdaptiveSearch.next_cell``) and told each final end before the store records it, so a
killed runner leaves at most the running cells' trials open, which the rerun redoes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import kinds
from zoo.bench.grid import Cell, expand
from zoo.bench.space import Choice, Range
from zoo.errors import ConfigError, RegistryError
from zoo.searcher import Searcher, Trial
from zoo.status import Status

if TYPE_CHECKING:
    from zoo.bench.preflight import Preflight
    from zoo.bench.sweep import SweepSpec
    from zoo.plugin.facade import Catalog

MAX_REPEATS = 200  # points in a row that give no new cell: the space holds no more
_TOLD = {Status.OK: "complete", Status.PRUNED: "pruned", Status.DIVERGED: "failed",
         Status.SKIPPED: "failed"}  # failed, timeout, interrupted: the rerun redoes the cell


def build_searcher(catalog: Catalog, name: str, sets: list[str]) -> Searcher:
    """``--search NAME`` with ``--set searcher.P=V``: the searcher, or a one-line error."""
    from zoo.job import parse_sets

    known = catalog.registry.names("searchers")
    if name not in known:
        raise ConfigError(f"--search {name}: unknown searcher (known: {', '.join(known) or 'none'})")
    try:
        return catalog.build("searchers", name, parse_sets(sets).get("searchers", {}))
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None


def search_space(catalog: Catalog, spec: SweepSpec) -> dict[str, Choice | Range]:
    """What a searcher samples: swept kinds of several entries, then the parameter axes,
    each value (or a range's ends) checked against every selected entry that takes it."""
    from zoo.bench.axes import search_space as parameter_axes, typed_axis
    from zoo.bench.grid import selected
    from zoo.job import parse_sets

    chosen = selected(catalog, spec)
    space: dict[str, Choice | Range] = {str(kind.axis): Choice(tuple(chosen[kind.name]))
                                        for kind in kinds.swept() if len(chosen[kind.name]) > 1}
    _, axes = parameter_axes(catalog, parse_sets(list(spec.sets)), chosen, spec.space)
    for name, (axis, where) in axes.items():
        ends = axis if isinstance(axis, Choice) else Choice((axis.low, axis.high))
        typed = typed_axis(catalog, name, ends, where, chosen)
        if isinstance(axis, Range):
            space[name] = axis
        elif typed.varied:  # one value is no dimension: the spec keeps setting it
            space[name] = Choice(typed.values)
    return space


def space_size(space: dict[str, Any]) -> float:
    """How many points the space holds (inf with a range of real numbers): no more cells
    than that can exist, so a search asks no further once it has them all."""
    size = 1.0
    for axis in space.values():
        if isinstance(axis, Choice):
            size *= len(axis.values)
        elif axis.integer or axis.step is not None:
            size *= int((axis.high - axis.low) // (axis.step or 1)) + 1
        else:
            return math.inf
    return size


def parameter_names(space: dict[str, Any]) -> list[str]:
    """The space's parameter axes: the columns tables add (kinds have their own)."""
    swept = {kind.axis for kind in kinds.swept()}
    return [name for name in space if name not in swept]


def cells_of(catalog: Catalog, spec: SweepSpec, point: dict[str, Any]) -> list[Cell]:
    """The point's cells (one per device and repeat), as the grid would make them."""
    from zoo.bench.axes import value_texts

    swept = {kind.axis for kind in kinds.swept()}
    params = {name: value for name, value in point.items() if name not in swept}
    sets = tuple(item for item in spec.sets if item.partition("=")[0].strip() not in params)
    one = replace(spec, selections={**spec.selections, **{a: (v,) for a, v in point.items() if a in swept}},
                  space={**spec.space, **{name: Choice((value,)) for name, value in params.items()}},
                  sets=sets)
    cells = expand(catalog, one)
    out = []
    for cell in cells:
        labels = tuple((name, value_texts((value,))[0]) for name, value in params.items()
                       if _applies(catalog, cell, name))
        out.append(replace(cell, axes=labels))
    return out


def _applies(catalog: Catalog, cell: Cell, name: str) -> bool:
    from zoo.bench.space import axis_kind

    kind, param = axis_kind(name, name)
    return kind is None or param in catalog.entry(kind, cell.entries[kind]).defaults


def prototypes(catalog: Catalog, spec: SweepSpec) -> list[Cell]:
    """One cell per combination of entries, parameters at their defaults: what the
    preflight builds and the executor prepares for before any point is asked."""
    from zoo.bench.space import set_axis

    single = tuple(item for item in spec.sets if set_axis(item.partition("=")[2]) is None)
    return expand(catalog, replace(spec, space={}, sets=single))


def sampled_cells(catalog: Catalog, spec: SweepSpec, searcher: Searcher, space: dict[str, Any],
                  trials: int) -> list[Cell]:
    """A non-adaptive searcher's first ``trials`` distinct cells (each with its devices
    and repeats), asked before anything runs."""
    searcher.open(spec.out, space, spec.seed)
    cells: list[Cell] = []
    seen: set[str] = set()
    repeats = 0
    while len(seen) < min(trials, space_size(space)) and repeats < MAX_REPEATS:
        trial = searcher.ask()
        if trial is None:
            break
        made = cells_of(catalog, spec, trial.point)
        if made[0].key in seen:
            repeats += 1
            continue
        repeats = 0
        seen.add(made[0].key)
        cells.extend(made)
    searcher.close()
    return cells


class AdaptiveSearch:
    """An adaptive searcher's trials as cells, asked while the runner has room."""

    def __init__(self, catalog: Catalog, spec: SweepSpec, searcher: Searcher, space: dict[str, Any],
                 trials: int, threads: int, prototypes: list[Cell]) -> None:
        self.catalog, self.spec, self.searcher, self.space = catalog, spec, searcher, space
        self.trials, self.threads = trials, threads
        self.prototypes = prototypes  # one cell per combination of entries, at the defaults
        self.cells: list[Cell] = []  # one per distinct trial, in the order they were asked
        self._trial: dict[tuple[str, int], Trial] = {}
        self._preflight: Preflight | None = None
        self.exhausted = False  # the searcher had no new point: fewer cells than trials

    def open(self, out: Path, preflight: Preflight | None, force: bool = False) -> list[Cell]:
        """The cells of earlier sessions' trials (a trial not told yet runs again)."""
        if force:  # every cell trains again from scratch: no old trial may stand
            from zoo.bench.optuna_pruner import STUDY_FILE  # a name only: Optuna is not imported

            (out / STUDY_FILE).unlink(missing_ok=True)
        self._preflight = preflight
        for trial in self.searcher.open(out, self.space, self.spec.seed):
            if set(trial.point) != set(self.space):  # asked in another space: kept apart
                continue
            self._add(self._cell(trial.point), trial)
        return list(self.cells)

    def next_cell(self) -> Cell | None:
        """The next trial's cell, or None once ``trials`` distinct cells exist (or the
        searcher has no new point)."""
        repeats = 0
        wanted = min(self.trials, space_size(self.space))
        while len(self.cells) < wanted and repeats < MAX_REPEATS and not self.exhausted:
            trial = self.searcher.ask()
            if trial is None:
                break
            cell = self._cell(trial.point)
            if self._add(cell, trial):
                return cell
            repeats += 1
        # Asked no more: ``MAX_REPEATS`` repeats in a row mean the space holds no new cell.
        self.exhausted = len(self.cells) < self.trials
        return None

    def _add(self, cell: Cell, trial: Trial) -> bool:
        """Keep the trial as its cell's, or tell it as the repeat of the cell's own."""
        own = self._trial.get((cell.key, cell.seed))
        if own is not None:
            if trial.state is None:  # what the cell got, or nothing yet (it still runs)
                self.searcher.tell(trial, own.state or "failed", own.value if own.state else None)
            return False
        name = f"{cell.key}:{cell.seed}"
        if trial.name != name and trial.state is None:
            self.searcher.started(trial, name)
        self._trial[cell.key, cell.seed] = trial
        self.cells.append(cell)
        return True

    def _cell(self, point: dict[str, Any]) -> Cell:
        from zoo.bench.grid import with_identities
        from zoo.bench.preflight import data_key, preflight

        cell = replace(cells_of(self.catalog, self.spec, point)[0], threads=self.threads)
        checked = self._preflight
        key = data_key(cell.dataset, cell.params.get("datasets"))
        if checked is not None and key not in checked.data:  # a dataset parameter drawn anew
            more = preflight(self.catalog, [cell], self.spec.data_dirs, self.spec.preflight_timeout)
            checked.data.update(more.data)
        fingerprints = {k: info.fingerprint for k, info in (checked.data if checked else {}).items()}
        return with_identities(self.catalog, [cell], fingerprints)[0]

    def ended(self, cell: Cell, status: Status, metrics: dict | None) -> None:
        """Tell a final end (before the store records it)."""
        from zoo.bench.pruning import val_accs

        trial = self._trial.get((cell.key, cell.seed))
        told = _TOLD.get(status)
        if trial is None or told is None or trial.state is not None:
            return
        values = val_accs(metrics)
        value = values[-1] if values else None
        self.searcher.tell(trial, told if told != "complete" or value is not None else "failed", value)

    def close(self) -> None:
        self.searcher.close()
