"""Early stopping against the full grid, side by side in one run: best validation accuracy
and epochs spent, plus the cost of one pause at an epoch boundary.

The space: models x optimizers x learning rates x schedules, each learning rate one
``zoo bench`` into the same folder (so the pruner's study sees every cell), run twice:
``--prune none`` (the grid) and ``--prune asha``.  Acceptance (issue 18): on the course CNN
on Fashion-MNIST, 3 optimizers x 4 learning rates x 2 schedules = 24 cells, 4 epochs,
asha's best validation accuracy within 0.5 points of the grid's at <= 40% of its epochs:

    .venv/bin/python benchmarks/prune.py --data-dir /usr/share/datasets/fashion-mnist \\
        --dataset fashion-mnist --models cnn --optimizers sgd,momentum,adam \\
        --lrs 0.1,0.03,0.01,0.003 --schedules constant,cosine --epochs 4 --extra=""

(hours on 2 cores).  The overhead: the same cells with a pruner that decides after every
epoch and never prunes (median, n_startup_trials huge) against ``--prune none``; the extra
wall time per pause is a process restart from the warm fork server, the data and model
built again and the checkpoint restored.  Its default is the tiny setting that shows the
script works in a minute or two (packaged MNIST sample, MLP).
"""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, verdict, write_section


def sweep(out: Path, args, lr: str, prune: list[str]) -> float:
    cmd = [sys.executable, "-m", "zoo", "bench", "--quiet", "--out", str(out), "--data-dir", args.data_dir,
           "--datasets", args.dataset, "--models", args.models, "--optimizers", args.optimizers,
           "--schedules", args.schedules, "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--set", f"optimizer.learning_rate={lr}", *args.extra, *prune]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode:
        raise SystemExit(f"zoo bench failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - began


def rows(out: Path) -> list[dict]:
    db = sqlite3.connect(out / "results.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM results")]
    finally:
        db.close()


def space(out: Path, args, prune: list[str]) -> dict:
    seconds = sum(sweep(out, args, lr, prune) for lr in args.lrs.split(","))
    found = rows(out)
    finished = [r for r in found if r["status"] == "ok"]
    return {"cells": len(found), "pruned": sum(r["status"] == "pruned" for r in found),
            "epochs": sum(int(r["epochs_done"] or 0) for r in found),
            "best": max(r["best_val_acc"] for r in finished), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO / "zoo" / "data" / "mnist_sample"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--models", default="mlp")
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--lrs", default="0.01,0.00001")
    parser.add_argument("--schedules", default="constant")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--prune", default="asha")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the overhead measurement")
    parser.add_argument("--section", default="prune", help="RESULTS.md section to (re)write")
    parser.add_argument("--extra", default="--set model.hidden1=32",
                        help="more zoo bench arguments, one string (e.g. '--limit-train 5000')")
    args = parser.parse_args()
    args.extra = shlex.split(args.extra)
    with tempfile.TemporaryDirectory(prefix="zoo-prune-") as tmp:
        grid = space(Path(tmp) / "grid", args, ["--prune", "none"])
        pruned = space(Path(tmp) / "pruned", args, ["--prune", args.prune])
        # Overhead of a pause: one learning rate, every epoch a decision, nothing pruned;
        # alternated --repeat times, medians of the differences.
        lr, sweeps, cells_time = args.lrs.split(",")[0], [], []
        for rep in range(args.repeat):
            plain_dir, paused_dir = Path(tmp) / f"plain{rep}", Path(tmp) / f"paused{rep}"
            plain = sweep(plain_dir, args, lr, ["--prune", "none"])
            paused = sweep(paused_dir, args, lr, ["--prune", "median", "--set", "pruner.n_startup_trials=1000000"])
            pauses = len(rows(paused_dir)) * (args.epochs - 1)
            sweeps.append((paused - plain) / pauses)
            # the cells' own start-up time, summed over their sessions (launch to first step:
            # process, data, model, checkpoint); far less noisy than whole times on a busy machine
            cells_time.append((sum(r["startup_time"] for r in rows(paused_dir))
                               - sum(r["startup_time"] for r in rows(plain_dir))) / pauses)
    share = pruned["epochs"] / grid["epochs"]
    gap = (grid["best"] - pruned["best"]) * 100
    per_pause, per_pause_cell = statistics.median(sweeps), statistics.median(cells_time)
    # The acceptance is about a real space: on a tiny one, say so instead of a verdict.
    judged = verdict(gap <= 0.5 and share <= 0.40) if grid["cells"] >= 24 and args.epochs >= 4 \
        else "not judged (fewer than 24 cells or 4 epochs)"
    body = f"""
Space: {args.dataset} ({args.data_dir}), models {args.models}, optimizers {args.optimizers}, learning
rates {args.lrs}, schedules {args.schedules}, {args.epochs} epochs, batch {args.batch_size}
{' '.join(args.extra)}: {grid['cells']} cells.

| run | cells pruned | epochs trained | share of the grid's | best val acc | wall s |
| --- | --- | --- | --- | --- | --- |
| grid (`--prune none`) | 0 | {grid['epochs']} | 100% | {grid['best']:.4f} | {grid['seconds']:.0f} |
| `--prune {args.prune}` | {pruned['pruned']} | {pruned['epochs']} | {share:.0%} | {pruned['best']:.4f} | {pruned['seconds']:.0f} |

- {args.prune} vs grid: {gap:+.2f} points of best validation accuracy at {share:.0%} of the epochs:
  {judged} (acceptance: within 0.5 points at <= 40% on >= 24 cells of >= 4 epochs).
- A pause at an epoch boundary (checkpoint, worker ends, runner asks the pruner, cell
  resumes from the warm fork server, its data and model built again, checkpoint loaded):
  {per_pause:.2f} s of the sweep's wall time each (noisy: a difference of whole sweeps),
  {per_pause_cell:.2f} s of the cells' own start-up time (launch to first step, summed over
  sessions); medians of {args.repeat} alternated runs with {pauses} pauses against none.
"""
    print(body)
    write_section(args.section, body)


if __name__ == "__main__":
    main()
