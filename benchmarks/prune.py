"""Early stopping against the full grid, side by side in one run: best validation accuracy
and epochs spent, plus the cost of one pause at an epoch boundary.

The space: a named grid file (``--grid``, its ``[space]`` axes included: one ``zoo bench``
per run), or models x optimizers x learning rates x schedules from the options (each
learning rate one ``zoo bench`` into the same folder, so the pruner's study sees every
cell).  It runs ``--prune none`` (the grid) once, then each ``--prune`` pruner (``asha``, or a
list: ``asha,sha``) once per ``--attempts`` entry (pruner parameters, e.g.
``reduction_factor=4``), each in a folder of its own.  Acceptance (issue 18): on benchmarks/fashion-prune.toml, the course CNN on
Fashion-MNIST, 3 optimizers x 4 learning rates x 2 schedules = 24 cells of 4 epochs,
asha's best validation accuracy within 0.5 points of the grid's at <= 40% of its epochs:

    .venv/bin/python benchmarks/prune.py --grid benchmarks/fashion-prune.toml \\
        --data-dir /usr/share/datasets/fashion-mnist --repeat 0 --section prune-fashion-24

The epochs share and the accuracies depend only on the settings and data (every cell is
seeded; the pruner's decisions follow the cells' order, which ``--jobs 1`` keeps); wall
time depends on the machine's load, which the section states (the CPU's busy share over
the run, and how much of it was this script's own cells).

The overhead (``--repeat``, 0 skips it): the same cells with a pruner that decides after
every epoch and never prunes (median, n_startup_trials huge) against ``--prune none``; the
extra wall time per pause is a process restart from the warm fork server, the data and
model built again and the checkpoint restored.  Its default is the tiny setting that shows
the script works in a minute or two (packaged MNIST sample, MLP).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import REPO, CpuWatch, verdict, write_section

FINISHED = {0, 1}  # every cell ended with a status (1: some diverged or failed, recorded)


def space_args(args) -> list[list[str]]:
    """One ``zoo bench`` argument list per sweep of the space into one folder."""
    common = ["--data-dir", args.data_dir, *args.extra]
    if args.grid:
        return [["--grid", args.grid, *common]]
    return [["--datasets", args.dataset, "--models", args.models, "--optimizers", args.optimizers,
             "--schedules", args.schedules, "--epochs", str(args.epochs), "--batch-size",
             str(args.batch_size), "--set", f"optimizer.learning_rate={lr}", *common]
            for lr in args.lrs.split(",")]


def sweep(out: Path, bench_args: list[str], prune: list[str]) -> float:
    cmd = [sys.executable, "-m", "zoo", "bench", "--quiet", "--out", str(out), *bench_args, *prune]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode not in FINISHED:
        raise SystemExit(f"zoo bench failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - began


def rows(out: Path) -> list[dict]:
    db = sqlite3.connect(out / "results.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM results")]
    finally:
        db.close()


def span(found: list[dict]) -> float:
    """Seconds from the first cell's start to the last one's end, from the store: the
    sweep's wall time also when a rerun only finds it done (``--keep``) or resumed it.
    A row keeps its latest session's start, so a cell paused and resumed first makes it
    short by its first piece (seconds, of a sweep's tens of minutes)."""
    from datetime import datetime

    starts = [datetime.fromisoformat(r["started_at"]) for r in found if r.get("started_at")]
    ends = [datetime.fromisoformat(r["ended_at"]) for r in found if r.get("ended_at")]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")


def space(out: Path, args, prune: list[str]) -> dict:
    for bench_args in space_args(args):
        sweep(out, bench_args, prune)
    found = rows(out)
    seconds = span(found)
    finished = [r for r in found if r["status"] == "ok"]
    best = max(finished, key=lambda r: r["best_val_acc"] or 0.0)
    return {"cells": len(found), "pruned": sum(r["status"] == "pruned" for r in found),
            "other": sorted({r["status"] for r in found} - {"ok", "pruned"}),
            "epochs": sum(int(r["epochs_done"] or 0) for r in found),
            "best": best["best_val_acc"], "best_cell": best["slug"], "seconds": seconds}


def overhead(root: Path, args) -> tuple[float, float, int]:
    """A pause's cost: one sweep of the space's first part, every epoch a decision, nothing
    pruned; alternated --repeat times, medians of the differences."""
    bench_args, sweeps, cells_time, pauses = space_args(args)[0], [], [], 0
    epochs = args.epochs
    for rep in range(args.repeat):
        plain_dir, paused_dir = root / f"plain{rep}", root / f"paused{rep}"
        plain = sweep(plain_dir, bench_args, ["--prune", "none"])
        paused = sweep(paused_dir, bench_args, ["--prune", "median", "--set", "pruner.n_startup_trials=1000000"])
        epochs = max(int(r["epochs"] or 0) for r in rows(paused_dir))
        pauses = len(rows(paused_dir)) * (epochs - 1)
        sweeps.append((paused - plain) / pauses)
        # the cells' own start-up time, summed over their sessions (launch to first step:
        # process, data, model, checkpoint); far less noisy than whole times on a busy machine
        cells_time.append((sum(r["startup_time"] for r in rows(paused_dir))
                           - sum(r["startup_time"] for r in rows(plain_dir))) / pauses)
    return statistics.median(sweeps), statistics.median(cells_time), pauses


def attempt_sets(text: str) -> list[list[str]]:
    """'; '-separated attempts, each space-separated pruner parameters ('' is the defaults);
    a dotted name is any other --set, e.g. 'searcher.seed=1' for a search's sampler seed."""
    return [[p if "." in p.split("=", 1)[0] else f"pruner.{p}" for p in part.split()]
            for part in text.split(";")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", help="a named grid file: the whole space (options below then unused)")
    parser.add_argument("--data-dir", default=str(REPO / "zoo" / "data" / "mnist_sample"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--models", default="mlp")
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--lrs", default="0.01,0.00001")
    parser.add_argument("--schedules", default="constant")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--prune", default="asha",
                        help="the pruners to measure, ','-separated (e.g. 'asha,sha'): each with every attempt")
    parser.add_argument("--attempts", default="",
                        help="pruner parameter sets to try, ';'-separated (e.g. ';reduction_factor=4'); "
                             "a dotted name is any --set (e.g. 'searcher.seed=1')")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the overhead measurement (0: none)")
    parser.add_argument("--concurrent", action="store_true",
                        help="run the grid and the attempts at the same time (wall times then overlap)")
    parser.add_argument("--keep", help="keep the sweep folders here (for zoo report) instead of a temporary folder")
    parser.add_argument("--section", default="prune", help="RESULTS.md section to (re)write")
    parser.add_argument("--reading", help="a hand-written reading (markdown) copied into the section when "
                                          "the runs are done, e.g. how the attempts' parameters were chosen")
    parser.add_argument("--attempt-args", default="",
                        help="zoo bench arguments for the attempts only, one string: e.g. "
                             "'--search optuna --trials 12' measures a search against the grid")
    parser.add_argument("--extra", default="--set model.hidden1=32",
                        help="more zoo bench arguments, one string (e.g. '--limit-train 5000')")
    args = parser.parse_args()
    args.extra = shlex.split(args.extra)
    attempt_args = shlex.split(args.attempt_args)
    shown = f" {args.attempt_args}" if attempt_args else ""
    watch, load0 = CpuWatch(), os.getloadavg()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zoo-prune-"))
    try:
        runs = [("grid", "none", ["--prune", "none"])] + [
            ((" ".join(s.removeprefix("pruner.") for s in sets) or "defaults") + shown, pruner,
             ["--prune", pruner] + [a for s in sets for a in ("--set", s)] + attempt_args)
            for pruner in args.prune.split(",") for sets in attempt_sets(args.attempts)]
        # Each run in a folder (and study) of its own: concurrent runs share nothing but the CPU.
        with ThreadPoolExecutor(len(runs) if args.concurrent else 1) as pool:
            done = list(pool.map(lambda n: space(root / f"run{n}", args, runs[n][2]), range(len(runs))))
        grid, tried = done[0], [(name, pruner, found) for (name, pruner, _), found in zip(runs[1:], done[1:])]
        per_pause = overhead(root, args) if args.repeat else None
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    cpu = watch.stop()
    wall, busy, ours = cpu["seconds"], cpu["busy"], cpu["ours"]
    epochs = args.epochs if not args.grid else "the grid file's"
    judged_size = grid["cells"] >= 24 and (args.grid or args.epochs >= 4)
    concurrent = ("; the grid and the attempts ran at the same time (--concurrent), so each "
                  "one's wall time is longer than alone" if args.concurrent and tried else "")
    shared = ("other work took the rest, so the wall times are inflated and noisy"
              if cpu["others"] >= 0.10 else "the machine was otherwise quiet")
    lines, verdicts = [], []
    for params, pruner, run in tried:
        share, gap = run["epochs"] / grid["epochs"], (grid["best"] - run["best"]) * 100
        lines.append(f"| `--prune {pruner}` ({params}) | {run['pruned']} | {run['epochs']} | {share:.0%} "
                     f"| {run['best']:.4f} | {run['seconds']:.0f} |")
        judged = verdict(gap <= 0.5 and share <= 0.40) if judged_size \
            else "not judged (fewer than 24 cells or 4 epochs)"
        # signed as the run against the grid: -0.37 is 0.37 points below the grid's best
        verdicts.append(f"- {pruner} ({params}) vs grid: {(-gap or 0.0):+.2f} points of best validation "
                        f"accuracy (best cell {run['best_cell']}) at {share:.0%} of the epochs: {judged}")
    space_text = (f"the grid file {args.grid}" + (f" with {' '.join(args.extra)}" if args.extra else "") if args.grid else
                  f"{args.dataset}, models {args.models}, optimizers {args.optimizers}, learning "
                  f"rates {args.lrs}, schedules {args.schedules}, {epochs} epochs, batch "
                  f"{args.batch_size} {' '.join(args.extra)}")
    body = f"""
Space: {space_text} (data {args.data_dir}): {grid['cells']} cells; statuses other than ok and
pruned in the grid: {', '.join(grid['other']) or 'none'}. Grid's best cell: {grid['best_cell']}.

| run | cells pruned | epochs trained | share of the grid's | best val acc | wall s |
| --- | --- | --- | --- | --- | --- |
| grid (`--prune none`) | 0 | {grid['epochs']} | 100% | {grid['best']:.4f} | {grid['seconds']:.0f} |
{chr(10).join(lines)}

{chr(10).join(verdicts)}
  (acceptance: within 0.5 points at <= 40% of the grid's epochs on >= 24 cells of >= 4 epochs;
  epochs and accuracies do not depend on the machine's load, wall times do).
- Load: over the script's {wall / 60:.0f} minutes the CPU was {busy:.0%} busy on average
  ({ours:.0%} of all cores' time was this script's own cells and zoo), load average
  {load0[0]:.1f} at the start and {cpu['load']:.1f} at the end: {shared}{concurrent}.
"""
    if per_pause is not None:
        body += f"""- A pause at an epoch boundary (checkpoint, worker ends, runner asks the pruner, cell
  resumes from the warm fork server, its data and model built again, checkpoint loaded):
  {per_pause[0]:.2f} s of the sweep's wall time each (noisy: a difference of whole sweeps),
  {per_pause[1]:.2f} s of the cells' own start-up time (launch to first step, summed over
  sessions); medians of {args.repeat} alternated runs with {per_pause[2]} pauses against none.
"""
    if args.reading:  # read now, not at the start: it may be written while the runs go on
        body += "\n" + Path(args.reading).read_text()
    print(body)
    write_section(args.section, body)


if __name__ == "__main__":
    main()
