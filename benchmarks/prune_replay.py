"""Replay Optuna's successive halving on a finished sweep's epoch-1 accuracies: what asha
with other parameters would have spent and kept, without training again.

Exact for pruners whose only rung is epoch 1 (reduction_factor >= epochs with
min_resource 1): with ``--jobs 1`` a cell that goes on trains to its end before the next
cell starts, so each cell meets the same rung competition (the cells before it, in grid
order) as in a real run, and every cell's epoch-1 accuracy is the same in every run
(seeded, resumed bit for bit).  Checked against a real run in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/prune_replay.py KEPT_SWEEP GRID_SWEEP 8,2 6,0 ...
    .venv/bin/python benchmarks/prune_replay.py --orders 60 GRID_SWEEP GRID_SWEEP 4,0

``--orders N``: also replay the cells in N seeded random orders (0..N-1) instead of the
grid's, to tell what the grid's order costs from what the parameters cost: the median
share of epochs, and in how many orders the target (<= 40%, within 0.5 points) is met.

KEPT_SWEEP: any sweep of the space in which every cell trained epoch 1 (a pruned one);
GRID_SWEEP: the full grid, for the final accuracies of the cells that would be kept.
Each further argument is reduction_factor,bootstrap_count.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path


def curves(sweep: Path) -> list[tuple[str, list[float]]]:
    """(cell key, validation accuracies) in the store's order, which is the grid's."""
    db = sqlite3.connect(sweep / "results.db")
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute("SELECT cell, slug FROM results ORDER BY rowid")]
    finally:
        db.close()
    found = []
    for row in rows:
        try:
            metrics = json.loads((sweep / "cells" / row["slug"] / "metrics.json").read_text())
        except FileNotFoundError:  # a cell that has not finished an epoch yet
            continue
        found.append((row["cell"], [e["val_acc"] for e in metrics["epochs"]]))
    return found


def replay(first: list[tuple[str, list[float]]], epochs: int, reduction_factor: int, bootstrap: int):
    """(epochs spent, cells kept) under SuccessiveHalvingPruner with one rung at epoch 1."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert reduction_factor >= epochs, "exact only when epoch 1 is the only rung"
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=reduction_factor, bootstrap_count=bootstrap))
    spent, kept = 0, []
    for cell, accs in first:
        trial = study.ask()
        trial.report(accs[0], 1)
        if trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            spent += 1
        else:
            study.tell(trial, accs[0])  # its later values decide nothing: no later rung
            spent += epochs
            kept.append(cell)
    return spent, kept


def in_orders(first, grid: dict, grid_best: float, epochs: int, factor: int, bootstrap: int,
              orders: int) -> str:
    import random
    import statistics

    shares, met = [], 0
    for seed in range(orders):
        order = first[:]
        random.Random(seed).shuffle(order)
        spent, kept = replay(order, epochs, factor, bootstrap)
        known = [max(grid[c]) for c in kept if c in grid]
        share = spent / (len(first) * epochs)
        gap = (grid_best - max(known)) * 100 if known else float("inf")
        shares.append(share)
        met += share <= 0.40 and gap <= 0.5
    return f"  in {orders} random orders: median {statistics.median(shares):.0%} of the epochs " \
           f"(from {min(shares):.0%} to {max(shares):.0%}); the target met in {met}"


def main() -> None:
    args = sys.argv[1:]
    orders = 0
    if args[:1] == ["--orders"]:
        orders, args = int(args[1]), args[2:]
    kept_sweep, grid_sweep, *params = args
    first, grid = curves(Path(kept_sweep)), dict(curves(Path(grid_sweep)))
    epochs = max(len(v) for v in grid.values())
    grid_best = max(max(v) for v in grid.values())  # best_val_acc, as prune.py compares
    print(f"grid: {len(grid)} cells so far, best val acc {grid_best:.4f}; space: {len(first)} cells")
    for text in params:
        factor, bootstrap = (int(x) for x in text.split(","))
        spent, kept = replay(first, epochs, factor, bootstrap)
        known = [max(grid[c]) for c in kept if c in grid]
        best = f"best {max(known):.4f} ({(grid_best - max(known)) * 100:+.2f} points from the grid's)" \
            if known else "best unknown"
        missing = f" ({len(kept) - len(known)} kept cells not in the grid sweep yet)" if len(known) < len(kept) else ""
        print(f"reduction_factor={factor} bootstrap_count={bootstrap}: {spent} epochs "
              f"({spent / (len(first) * epochs):.0%}), {len(kept)} kept, {best}{missing}")
        if orders:
            print(in_orders(first, grid, grid_best, epochs, factor, bootstrap, orders))


if __name__ == "__main__":
    main()
