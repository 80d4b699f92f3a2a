"""Made-up search sweeps for the report's search tests.

Rows are written through the results store's API, as zoo.report.synthetic writes them,
but with a parameter axis (``optimizer.learning_rate`` in each cell's identity), a known
law (the final accuracy depends on the learning rate alone, up to a tiny optimizer
effect), pruned cells and an order of ending that differs from the grid's.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

from tests.fixtures import provide

OPTIMIZERS = ["sgd", "momentum", "adam"]
RATES = [0.1, 0.03, 0.01, 0.003]
SCHEDULES = ["constant", "cosine"]
EPOCHS = 4
AXIS = "optimizer.learning_rate"


def final_acc(optimizer: str, rate: float) -> float:
    """The law: best at lr 0.01, 10 points lost per decade away from it."""
    return 0.9 - 0.1 * abs(math.log10(rate) + 2) + 0.002 * OPTIMIZERS.index(optimizer)


def write_search_sweep(out: Path, *, prune: bool = False, schedules=SCHEDULES, seed: int = 0) -> list[dict]:
    """24 cells (3 optimizers x 4 learning rates x 2 schedules) of 4 epochs; with ``prune``,
    the cells whose accuracy after epoch 1 is below 0.80 are pruned there (all but lr 0.01).
    Cells end in a shuffled order (``ended_at``).  Returns what was written, per cell."""
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store
    from zoo.layout import RunDir, SweepDir

    rng = random.Random(seed)
    combos = list(itertools.product(OPTIMIZERS, RATES, schedules))
    ends = list(range(len(combos)))
    rng.shuffle(ends)
    written, store = [], Store(SweepDir(out).results_db)
    try:
        for (optimizer, rate, schedule), end in zip(combos, ends):
            cell = Cell(entries={"datasets": "mnist", "models": "mlp", "optimizers": optimizer,
                                 "schedules": schedule, "regularizers": "none", "launchers": "single"},
                        nprocs=1, device="cpu", epochs=EPOCHS, batch_size=100, seed=0,
                        params={"optimizers": {"learning_rate": rate}},
                        identity={"params": {"optimizers": {"learning_rate": rate}}})
            top = final_acc(optimizer, rate)
            curve = [round(top - 0.08 * (EPOCHS - e) / EPOCHS, 6) for e in range(1, EPOCHS + 1)]
            pruned = prune and curve[0] < 0.80
            done = 1 if pruned else EPOCHS
            records = [{"epoch": e, "step": 10 * e, "val_acc": curve[e - 1], "val_loss": 1 - curve[e - 1],
                        "train_loss": 1.0, "train_acc": 0.5, "seconds": 2.0} for e in range(1, done + 1)]
            cell_dir = SweepDir(out).cell(cell.slug).path
            cell_dir.mkdir(parents=True, exist_ok=True)
            status = "pruned" if pruned else "ok"
            RunDir(cell_dir).metrics_file.write_text(json.dumps({"status": status, "epochs": records}))
            store.record(cell, status=status, epochs_done=str(done),
                         reason=f"stopped at epoch 1 of {EPOCHS} by asha" if pruned else "",
                         val_acc=records[-1]["val_acc"], best_val_acc=max(r["val_acc"] for r in records),
                         test_acc=records[-1]["val_acc"] - 0.01 if not pruned else None,
                         wall_time=2.0 * done, num_classes=10, ended_at=f"2026-12-04T10:{end:02d}:00+00:00",
                         cell_dir=str(cell_dir), host="synthetic")
            written.append({"cell": cell, "status": status, "epochs": done, "val_acc": records[-1]["val_acc"],
                            "ended_at": end, "optimizer": optimizer, "rate": rate, "schedule": schedule})
        store.set_meta("grid", [[w["cell"].key, 0] for w in written])
        store.set_meta("axes", [AXIS])
    finally:
        store.close()
    return written


search_axis_fixture = provide(AXIS, "search_axis")
search_epochs_fixture = provide(EPOCHS, "search_epochs")
write_search_sweep_fixture = provide(write_search_sweep)
