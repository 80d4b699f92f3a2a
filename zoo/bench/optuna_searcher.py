"""Optuna's samplers behind ``zoo.Searcher`` (the optional ``search`` extra).

Ask-and-tell only: zoo's runner owns processes, executors, the store and every guarantee;
Optuna only proposes points and hears how their cells ended.  The study is the one
``zoo.bench.optuna_pruner`` keeps in ``study.journal`` beside results.db: with ``--prune
asha`` the pruner decides on the very trials this searcher asked (it finds them by their
``zoo_trial`` name), so Optuna's pruners and samplers see one history.

Crash safety: ``ask`` is one journal append that already holds the point, and the cell's
name follows before the cell starts; a runner killed in between leaves a running trial
with a point, which zoo turns into the same cell on the rerun (``open`` returns it) and
names then.  A trial is told only once its cell ended for good, before the store records
the row; a trial still running in the study is a cell the rerun redoes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.bench.optuna_pruner import TRIAL_ATTR, open_study, require_optuna
from zoo.errors import ConfigError
from zoo.searcher import Choice, Searcher, Trial

# Samplers that need more than a space (GridSampler: zoo enumerates grids itself, and
# Optuna's repeats points in parallel) or are building blocks of others.
NOT_SAMPLERS = {"BaseSampler", "GridSampler", "PartialFixedSampler"}
_PLAIN = (str, int, float, bool, type(None))  # what a categorical distribution holds as is


class OptunaSearcher(Searcher):
    """Optuna's sampler ``sampler`` (a class of ``optuna.samplers``, built with ``options``
    and ``seed``) asked one point at a time, in the sweep's study."""

    samples = True
    adaptive = True

    def __init__(self, sampler: str = "TPESampler", seed: int | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self._optuna = require_optuna("optuna", "--search")
        known = sorted(n for n in dir(self._optuna.samplers)
                       if n.endswith("Sampler") and n not in NOT_SAMPLERS)
        if sampler not in known:
            raise ConfigError(f"searcher 'optuna': unknown sampler '{sampler}' (known: {', '.join(known)})")
        if options is not None and not isinstance(options, dict):
            raise ConfigError(f"searcher 'optuna': options must be a JSON object of {sampler}'s "
                              f"keyword arguments, got {options!r}")
        self._sampler, self._seed, self._options = sampler, seed, dict(options or {})
        # Built now, so that a bad option is refused with one line before anything runs.
        self._make_sampler(0)
        self._live: dict[int, Any] = {}  # trial number -> optuna.trial.Trial not told yet
        self._encoded: set[str] = set()  # choices given to Optuna as JSON text
        self._distributions: dict[str, Any] = {}
        self.study: Any = None

    def open(self, folder: Path, space: dict, seed: int) -> list[Trial]:
        self._distributions = {name: self._distribution(name, axis) for name, axis in space.items()}
        self.study = open_study(folder)
        found = self.study.get_trials(deepcopy=False)
        # Seeded per session by what the study holds, so that a rerun's sampler does not
        # start the stream again and propose the finished points first.
        base = self._seed if self._seed is not None else seed
        self.study.sampler = self._make_sampler(base + len(found))
        states = self._optuna.trial.TrialState
        earlier = []
        for frozen in found:
            if not frozen.distributions:  # a pruner's trial of a grid cell
                continue
            trial = Trial(frozen.number, self._decode(frozen.params), frozen.user_attrs.get(TRIAL_ATTR))
            if frozen.state == states.RUNNING:
                self._live[frozen.number] = self._optuna.trial.Trial(self.study, frozen._trial_id)
            elif frozen.state == states.COMPLETE:
                trial.state, trial.value = "complete", frozen.value
            elif frozen.state.is_finished():
                trial.state = "pruned" if frozen.state == states.PRUNED else "failed"
            else:  # WAITING: nobody here enqueues points
                continue
            earlier.append(trial)
        return earlier

    def _make_sampler(self, seed: int):
        import inspect

        make = getattr(self._optuna.samplers, self._sampler)
        seeded = {"seed": seed} if "seed" in inspect.signature(make).parameters else {}
        try:
            return make(**{**seeded, **self._options})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"searcher 'optuna': {self._sampler}({', '.join(self._options)}): "
                              f"{exc}") from None

    def _distribution(self, name: str, axis) -> Any:
        dists = self._optuna.distributions
        if isinstance(axis, Choice):
            if all(isinstance(v, _PLAIN) for v in axis.values):
                return dists.CategoricalDistribution(list(axis.values))
            self._encoded.add(name)
            return dists.CategoricalDistribution([json.dumps(v, sort_keys=True) for v in axis.values])
        if axis.integer:
            return dists.IntDistribution(int(axis.low), int(axis.high), log=axis.log,
                                         step=int(axis.step or 1))
        return dists.FloatDistribution(axis.low, axis.high, log=axis.log, step=axis.step)

    def _decode(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: json.loads(v) if name in self._encoded else v for name, v in params.items()}

    def ask(self) -> Trial | None:
        live = self.study.ask(self._distributions)
        self._live[live.number] = live
        return Trial(live.number, self._decode(live.params))

    def started(self, trial: Trial, name: str) -> None:
        self._live[trial.number].set_user_attr(TRIAL_ATTR, name)
        trial.name = name

    def tell(self, trial: Trial, status: str, value: float | None) -> None:
        live = self._live.pop(trial.number)
        states = self._optuna.trial.TrialState
        # A pruner sharing the study may have told it already (the same end).
        if status == "complete" and value is not None:
            self.study.tell(live, float(value), skip_if_finished=True)
        else:
            self.study.tell(live, state=states.PRUNED if status == "pruned" else states.FAIL,
                            skip_if_finished=True)
        trial.state, trial.value = status, value
