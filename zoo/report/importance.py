"""Which settings the validation accuracy depends on: Optuna's fANOVA over the stored rows.

Optuna's importance evaluators need a study, so one is built in memory (never written)
from the sweep's rows: a complete trial per cell and seed that finished ok, its
parameters the settings that vary (swept entries as choices, numeric axes as ranges, log
scaled when they span a factor 10 or more), its value the final validation accuracy.
Pruned cells are left out, as fANOVA leaves out every trial that is not complete: their
final accuracy is unknown.  The evaluator is seeded, so a report is reproducible.

Optuna is the optional ``search`` extra; without it, or with too few cells, the report
says why there is no importance instead of failing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from zoo.report.search import counts_as_found, settings, varying_settings

MIN_CELLS = 8  # fANOVA's forest over fewer complete cells says more about noise than settings
# Optuna's default of 64 trees took 5-10 s on a 500-cell sweep on 2 busy cores (the whole
# report's budget); 16 moved no share by more than 0.03 there.
TREES = 16
INSTALL_HINT = "pip install 'zoo[search]'"


@dataclass
class Importance:
    values: dict[str, float] = field(default_factory=dict)  # setting -> share, largest first
    cells: int = 0  # the complete cells it was computed from
    note: str = ""  # why there is none (empty when there is, or when it would say nothing)


def _numbers(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def distribution(optuna, values: list[Any]):
    """A setting's distribution over the values the cells took."""
    dist = optuna.distributions
    if _numbers(values):
        low, high = min(values), max(values)
        log = low > 0 and high / low >= 10
        if all(isinstance(v, int) for v in values):
            return dist.IntDistribution(int(low), int(high), log=log)
        return dist.FloatDistribution(float(low), float(high), log=log)
    return dist.CategoricalDistribution(sorted({str(v) for v in values}))


def _param(value: Any, distribution_) -> Any:
    return str(value) if type(distribution_).__name__ == "CategoricalDistribution" else value


def importance(rows: list[dict[str, Any]], axes: list[str]) -> Importance:
    """fANOVA importance of the varying settings over the rows that finished ok; an empty
    result with a note when it cannot be had, with no note when nothing varies."""
    complete = [r for r in rows if counts_as_found(r)]
    names = varying_settings(complete, axes)
    if len(varying_settings(rows, axes)) < 2:
        return Importance()  # one setting (or none) varies: its importance would be 100%
    if len(names) < 2 or len(complete) < MIN_CELLS:
        return Importance(cells=len(complete), note=(
            f"No parameter importance: it needs at least {MIN_CELLS} cells that finished ok "
            f"with two or more settings varying among them; this sweep has {len(complete)} "
            f"(pruned cells do not count: their final accuracy is unknown)."))
    try:
        import optuna
        import sklearn  # noqa: F401 - fANOVA's random forest; Optuna imports it only when asked
    except ImportError as exc:
        return Importance(cells=len(complete), note=(
            f"No parameter importance: it is computed by Optuna's fANOVA, and "
            f"{'scikit-learn' if exc.name == 'sklearn' else 'Optuna'} is not installed ({INSTALL_HINT})."))
    if len({float(r["val_acc"]) for r in complete}) == 1:  # fANOVA divides by the variance
        return Importance(cells=len(complete), note=(
            f"No parameter importance: the {len(complete)} cells that finished ok all have the "
            f"same final validation accuracy, so no setting explains any of it."))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    values = [settings(r, axes) for r in complete]
    dists = {n: distribution(optuna, [v[n] for v in values]) for n in names}
    study = optuna.create_study(direction="maximize")  # in memory: nothing is written
    for row, setting in zip(complete, values):
        study.add_trial(optuna.trial.create_trial(
            params={n: _param(setting[n], dists[n]) for n in names}, distributions=dists,
            value=float(row["val_acc"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-API and forest warnings are not the user's
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(n_trees=TREES, seed=0))
    return Importance(values={n: float(v) for n, v in found.items()}, cells=len(complete))
