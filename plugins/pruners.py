"""Built-in pruners: early stopping for a sweep's cells (``zoo bench --prune NAME``).

``median``, ``asha`` and ``hyperband`` are Optuna's pruners (the ``search`` extra), asked
by zoo's runner after the validation of the epochs they can decide at; ``sha`` is zoo's
synchronous successive halving, for grids (no library); ``none`` needs nothing.
Parameters: ``--set pruner.P=V``.
"""

from __future__ import annotations

import zoo


def build_none():
    return zoo.Pruner()


def build_median(*, n_startup_trials: int = 5, n_warmup_steps: int = 0):
    return zoo.OptunaPruner("median", lambda optuna: optuna.pruners.MedianPruner(
        n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps), zoo.every_epoch)


def build_asha(*, min_resource: int = 1, reduction_factor: int = 3,
               min_early_stopping_rate: int = 0, bootstrap_count: int = 0):
    return zoo.OptunaPruner("asha", lambda optuna: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=min_resource, reduction_factor=reduction_factor,
        min_early_stopping_rate=min_early_stopping_rate, bootstrap_count=bootstrap_count),
        zoo.rung_epochs(min_resource, reduction_factor, min_early_stopping_rate))


def build_sha(*, min_resource: int = 1, reduction_factor: int = 3):
    return zoo.SyncHalving(min_resource=min_resource, reduction_factor=reduction_factor)


def build_hyperband(*, min_resource: int = 1, reduction_factor: int = 3):
    # max_resource "auto": the epochs of the first cell that completes (Optuna's rule).
    return zoo.OptunaPruner("hyperband", lambda optuna: optuna.pruners.HyperbandPruner(
        min_resource=min_resource, reduction_factor=reduction_factor), zoo.every_epoch)


@zoo.hookimpl
def zoo_register_pruners(register):
    register("none", build_none, description="No early stopping: every cell trains to its end")
    register("median", build_median,
             description="Stop a cell whose best validation accuracy is below the median of "
                         "completed cells at the same epoch (Optuna MedianPruner; zoo[search])")
    register("asha", build_asha,
             description="Asynchronous successive halving: keep the top 1/reduction_factor at "
                         "each rung epoch (Optuna SuccessiveHalvingPruner; zoo[search])")
    register("sha", build_sha,
             description="Synchronous successive halving: hold every cell at each rung epoch, "
                         "then keep the top 1/reduction_factor; order-independent, for grids")
    register("hyperband", build_hyperband,
             description="Hyperband: successive halving in several brackets "
                         "(Optuna HyperbandPruner; zoo[search])")
