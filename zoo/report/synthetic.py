"""A made-up sweep of any size, for the report's tests and benchmark: real rows written
through the results store's API, and a metrics.json per cell with plausible curves.

Training 500 cells for real would take hours; what a report costs depends on how many
rows and epochs it draws, not on where the numbers came from.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

from zoo import __version__
from zoo.layout import RunDir, SweepDir

DATASETS = [("mnist", 10)]  # (name, classes)
MODELS = ["mlp", "cnn", "lenet", "resnet8", "vit_tiny"]
OPTIMIZERS = ["sgd", "momentum", "adam", "adagrad", "rmsprop"]
SCHEDULES = ["constant", "cosine"]
REGULARIZERS = ["none", "l2"]
LAUNCHES = [("single", 1), ("spawn", 2), ("spawn", 4), ("launch", 2), ("launch", 4)]
# Mostly ok, with every kind of trouble a real sweep meets.
STATUSES = ["ok"] * 17 + ["diverged", "failed", "timeout"]
REASONS = {"diverged": "loss is nan at step 120 (epoch 2)",
           "failed": "worker exited with code 1: RuntimeError: out of memory",
           "timeout": "exceeded --cell-timeout 600 s; process group killed"}


def _curve(rng: random.Random, epochs: int, ceiling: float) -> list[dict]:
    rate = rng.uniform(0.4, 1.5)
    records, step = [], 0
    for epoch in range(1, epochs + 1):
        step += 42
        acc = min(0.999, ceiling * (1 - math.exp(-rate * epoch)) + rng.gauss(0, 0.01))
        records.append({"epoch": epoch, "step": step, "train_loss": 2.3 * (1 - acc) + 0.05,
                        "train_acc": min(0.999, acc + 0.02), "val_loss": 2.3 * (1 - acc) + 0.08,
                        "val_acc": acc, "lr": 0.01, "images_per_s": rng.uniform(500, 5000),
                        "seconds": rng.uniform(2, 40)})
    return records


def write_synthetic_sweep(out: Path, cells: int, *, epochs: int = 5, seed: int = 0,
                          target_acc: float = 0.9, repeats: int = 1, axes: dict | None = None,
                          statuses: list[str] | None = None) -> list:
    """Write ``out/results.db`` with ``cells`` x ``repeats`` rows (seeds ``seed`` on) and
    their cell folders; returns the Cells, in the order written.  ``axes`` replaces some
    of the value lists (keys datasets, models, optimizers, schedules, regularizers, launches);
    ``statuses`` the statuses drawn from."""
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store

    rng = random.Random(seed)
    lists = {"datasets": DATASETS, "models": MODELS, "optimizers": OPTIMIZERS,
             "schedules": SCHEDULES, "regularizers": REGULARIZERS, "launches": LAUNCHES,
             **(axes or {})}
    combos = list(itertools.product(*lists.values()))
    made = []
    store = Store(SweepDir(out).results_db)
    try:
        for index, repeat in itertools.product(range(cells), range(repeats)):
            (dataset, classes), model, optimizer, schedule, regularizer, (launch, nprocs) = \
                combos[index % len(combos)]
            # Past 500 combinations, a model parameter tells the cells apart.
            params = {"models": {"variant": index // len(combos)}} if index >= len(combos) else {}
            cell = Cell(entries={"datasets": dataset, "models": model, "optimizers": optimizer,
                                 "schedules": schedule, "regularizers": regularizer,
                                 "launchers": launch}, nprocs=nprocs, device="cpu",
                        epochs=epochs, batch_size=100, seed=seed + repeat, params=params,
                        target_acc=target_acc)
            status = rng.choice(statuses or STATUSES)
            done = epochs if status == "ok" else rng.randint(0, epochs - 1)
            records = _curve(rng, done, rng.uniform(0.85, 0.99))
            cell_dir = SweepDir(out).cell(cell.slug).path
            cell_dir.mkdir(parents=True, exist_ok=True)
            reached = next((sum(r["seconds"] for r in records[:i + 1]) for i, r in enumerate(records)
                            if r["val_acc"] >= target_acc), None)
            wall = sum(r["seconds"] for r in records) + rng.uniform(1, 5)
            ips = records[-1]["images_per_s"] * nprocs * rng.uniform(0.7, 0.95) if records else None
            RunDir(cell_dir).metrics_file.write_text(json.dumps(
                {"status": status, "reason": REASONS.get(status, ""), "epochs": records}))
            last = records[-1] if records else {}
            ok = status == "ok"
            store.record(cell, status=status, reason=REASONS.get(status, ""), epochs_done=str(done),
                         train_loss=last.get("train_loss"), train_acc=last.get("train_acc"),
                         val_loss=last.get("val_loss"), val_acc=last.get("val_acc"),
                         test_loss=last.get("val_loss") if ok else None,
                         test_acc=round(last["val_acc"] - 0.004, 6) if ok else None,
                         wall_time=wall, train_time=wall * 0.8, images_per_s=ips,
                         time_to_target=reached if ok else None, num_classes=classes, host="synthetic",
                         paddle_version="3.3.1", zoo_version=__version__, git_rev="synthetic",
                         cell_dir=str(cell_dir))
            made.append(cell)
        store.set_meta("grid", [[c.key, c.seed] for c in made])
    finally:
        store.close()
    return made
