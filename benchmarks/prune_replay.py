"""Replay zoo's asha (Optuna's successive halving) on a finished grid's stored validation
accuracies: what asha with given parameters spends and keeps, without training again.

Exact for ``--jobs 1``: a paused cell goes on before any new cell starts, so each cell
meets, at every rung, the cells before it in the order replayed, as in a real run; and a
cell's accuracy after each epoch is the same in every run (seeded, resumed bit for bit).
A cell that ended early in the grid (diverged) ends at the same epoch here.  Checked
against real runs in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/prune_replay.py GRID_SWEEP 3,0 8,2 ...
    .venv/bin/python benchmarks/prune_replay.py --orders 60 GRID_SWEEP 3,0

Each argument after the sweep is reduction_factor,bootstrap_count (min_resource 1, as
zoo's asha), or ``sha,reduction_factor`` for zoo's synchronous halving (``--prune sha``,
replayed by its own code).  ``--orders N``: also replay the cells in N seeded random orders (0..N-1)
instead of the grid's, to tell what the grid's order costs from what the parameters cost:
the median share of epochs, and in how many orders the target (<= 40%, within 0.5
points) is met.
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
        accs = [e.get("val_acc") for e in metrics["epochs"]]
        if None in accs:  # diverged: validation stops at the epoch it did
            accs = accs[:accs.index(None)]
        found.append((row["cell"], accs))
    return found


def rungs(epochs: int, factor: int) -> list[int]:
    """zoo's asha decision epochs (zoo.rung_epochs with min_resource 1)."""
    found, epoch = [], 1
    while epoch < epochs:
        found.append(epoch)
        epoch *= factor
    return found


def replay(cells: list[tuple[str, list[float]]], epochs: int, reduction_factor: int, bootstrap: int):
    """(epochs spent, cells trained to their end) under zoo's asha, cells in this order."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=reduction_factor, bootstrap_count=bootstrap))
    spent, kept = 0, []
    for cell, accs in cells:
        trial, reported, pruned = study.ask(), 0, False
        for rung in [r for r in rungs(epochs, reduction_factor) if r <= len(accs)]:
            for epoch in range(reported + 1, rung + 1):
                trial.report(accs[epoch - 1], epoch)
            reported = rung
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                spent, pruned = spent + rung, True
                break
        if pruned:
            continue
        spent += len(accs)
        if len(accs) < epochs:  # ended early in the grid (diverged): so it does here
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, accs[-1])
            kept.append(cell)
    return spent, kept


def replay_sha(cells: list[tuple[str, list[float]]], epochs: int, reduction_factor: int):
    """(epochs spent, cells trained to their end) under zoo's sha, by its own code: every
    cell still going reaches the rung, then one settle decides them all (the order of the
    cells cannot matter, so there is nothing to replay in other orders)."""
    import tempfile

    from zoo.bench.sha_pruner import SyncHalving

    spent, alive = 0, list(cells)
    with tempfile.TemporaryDirectory() as folder:
        pruner = SyncHalving(reduction_factor=reduction_factor)
        pruner.open(Path(folder))
        for rung in rungs(epochs, reduction_factor):
            spent += sum(len(accs) for _, accs in alive if len(accs) < rung)  # ended before it
            held = {cell: accs[:rung] for cell, accs in alive if len(accs) >= rung}
            answers = pruner.settle(held)
            spent += rung * sum(answers.values())
            alive = [(cell, accs) for cell, accs in alive if cell in held and not answers[cell]]
    spent += sum(len(accs) for _, accs in alive)
    return spent, [cell for cell, accs in alive if len(accs) == epochs]


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
        share = spent / sum(len(v) for v in grid.values())
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
    sweep, *params = args
    cells = [(cell, accs) for cell, accs in curves(Path(sweep)) if accs]
    grid = dict(cells)
    epochs = max(len(v) for v in grid.values())
    grid_best = max(max(v) for v in grid.values())  # best_val_acc, as prune.py compares
    print(f"grid: {len(grid)} cells, {epochs} epochs, best val acc {grid_best:.4f}")
    for text in params:
        if text.startswith("sha,"):
            factor = int(text.split(",")[1])
            spent, kept = replay_sha(cells, epochs, factor)
            best = max(max(grid[c]) for c in kept) if kept else float("nan")
            print(f"sha reduction_factor={factor} (rungs {rungs(epochs, factor)}): {spent} epochs "
                  f"({spent / sum(len(v) for v in grid.values()):.0%} of the grid's), {len(kept)} kept, "
                  f"best {best:.4f} ({(grid_best - best) * 100:+.2f} points from the grid's)")
            continue
        factor, bootstrap = (int(x) for x in text.split(","))
        spent, kept = replay(cells, epochs, factor, bootstrap)
        best = max(max(grid[c]) for c in kept) if kept else float("nan")
        print(f"reduction_factor={factor} bootstrap_count={bootstrap} (rungs {rungs(epochs, factor)}): "
              f"{spent} epochs ({spent / sum(len(v) for v in grid.values()):.0%} of the grid's), {len(kept)} kept, best {best:.4f} "
              f"({(grid_best - best) * 100:+.2f} points from the grid's)")
        if orders:
            print(in_orders(cells, grid, grid_best, epochs, factor, bootstrap, orders))


if __name__ == "__main__":
    main()
