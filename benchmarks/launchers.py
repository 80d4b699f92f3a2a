"""Launchers and the bench runner: multi-process speed-up, per-cell overhead, grid throughput.

(a) One cnn cell (1 epoch, batch 100 per process) with ``single``, ``spawn`` and ``launch``
    (2 processes): training throughput of each against ``single`` (target >= 1.7x).
(b) The runner's fixed cost per ``single`` cell: wall time in results.db minus the active
    time (``elapsed``: training, validation and the final test pass) in the cell's
    metrics.json (target < 1 s and < 3% of the cell), with the default warm start (cells
    forked from a process that has paddle imported) and with ``--cold-start``.  A child
    then times the usual suspects of the cold fixed cost (import paddle, plugins, data,
    model).
(c) The default grid of registry.toml (1 epoch): total wall time and cells per hour.

Everything goes through ``python -m zoo bench`` and its results.db, as a user would.

    .venv/bin/python benchmarks/launchers.py [--repeats 1] [--nprocs 2] [--skip-grid]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, bench, default_data_dir, median, verdict, write_section
from zoo.layout import RunDir

# Run in a child so that its imports are cold, as in a worker.
FIXED_COSTS = r"""
import json, sys, time
t = [time.perf_counter()]
import paddle; t.append(time.perf_counter())
from zoo.plugin import load_catalog
catalog = load_catalog(None); t.append(time.perf_counter())
data = catalog.build("datasets", "mnist", {"progress": False}, data_dir=sys.argv[1]); t.append(time.perf_counter())
model = catalog.build("models", "cnn", {}, input_shape=(1, 28, 28), num_classes=10); t.append(time.perf_counter())
from zoo.train.evaluate import evaluate
names = ["import paddle", "load plugins", "load data", "build model"]
print(json.dumps({n: b - a for n, a, b in zip(names, t, t[1:]) if n}))
"""


def part_a(args, tmp: Path) -> tuple[list[str], list[str], list[dict]]:
    launchers = ["single", "spawn", "launch"]
    runs: dict[str, list[dict]] = {name: [] for name in launchers}
    for i in range(args.repeats):
        _, rows = bench(tmp / f"launch{i}", args.data_dir,
                        ["--models", "cnn", "--optimizers", args.optimizer, "--launch",
                         ",".join(launchers), "--nprocs", str(args.nprocs), "--epochs", "1",
                         "--batch-size", "100"])
        for row in rows:
            metrics = json.loads(RunDir(row["cell_dir"]).metrics_file.read_text())
            row["elapsed"] = metrics["elapsed"]
            runs[row["launch"]].append(row)
            print(f"  {row['slug']}: {row['images_per_s']:.0f} img/s, wall {row['wall_time']:.1f} s, "
                  f"elapsed {row['elapsed']:.1f} s, test acc {row['test_acc']:.4f}")
    base = median([r["images_per_s"] for r in runs["single"]])
    lines, checks = [], []
    for name, rows in runs.items():
        ips = median([r["images_per_s"] for r in rows])
        wall = median([r["wall_time"] for r in rows])
        lines.append(f"| {name} | {rows[0]['nprocs']} | {ips:.0f} | {ips / base:.2f} | {wall:.1f} | "
                     f"{wall - median([r['elapsed'] for r in rows]):.1f} | "
                     f"{median([r['test_acc'] for r in rows]):.4f} |")
        if name != "single":
            checks.append(f"- {name} x{args.nprocs} / single = {ips / base:.2f} >= 1.7: "
                          f"**{verdict(ips / base >= 1.7)}**")
    return lines, checks, runs["single"]


def _single_cells(args, tmp: Path, name: str, extra: list[str]) -> list[dict]:
    rows = []
    for i in range(args.repeats):
        # two cells per sweep: the second shows the steady state of a long sweep
        _, found = bench(tmp / f"{name}{i}", args.data_dir,
                         ["--models", "cnn", "--optimizers", f"{args.optimizer},momentum",
                          "--launch", "single", "--epochs", "1", "--batch-size", "100", *extra])
        for row in found:
            row["elapsed"] = json.loads(RunDir(row["cell_dir"]).metrics_file.read_text())["elapsed"]
            rows.append(row)
    return rows


def part_b(args, tmp: Path) -> tuple[list[str], list[str]]:
    lines, checks = [], []
    for name, extra in (("warm start (default)", []), ("cold start (--cold-start)", ["--cold-start"])):
        rows = _single_cells(args, tmp, name.split()[0], extra)
        wall = median([r["wall_time"] for r in rows])
        over = median([r["wall_time"] - r["elapsed"] for r in rows])
        lines.append(f"| {name} | {len(rows)} | {wall:.2f} | {median([r['elapsed'] for r in rows]):.2f} "
                     f"| **{over:.2f}** | {over / wall:.1%} |")
        checks.append(f"- {name}: fixed cost {over:.2f} s < 1 s: **{verdict(over < 1)}**; "
                      f"{over / wall:.1%} of a 1-epoch cell < 3%: **{verdict(over / wall < 0.03)}**")
    proc = subprocess.run([sys.executable, "-c", FIXED_COSTS, args.data_dir], capture_output=True,
                          text=True, cwd=REPO, check=False)
    if proc.returncode == 0:
        parts = json.loads(proc.stdout.strip().splitlines()[-1])
        lines.append("")
        lines.append("What a cold start pays before training, measured apart in a fresh process: "
                     + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items()) + ".")
    return lines, checks


def part_c(args, tmp: Path) -> list[str]:
    wall, rows = bench(tmp / "grid", args.data_dir, ["--epochs", "1"])
    cells = sum(r["wall_time"] for r in rows)
    models, optimizers = (", ".join(sorted({r[k] for r in rows})) for k in ("model", "optimizer"))
    return [f"| cells | {len(rows)} ({models} x {optimizers}) |",
            f"| `zoo bench` wall time | {wall:.1f} s |",
            f"| sum of cell wall times | {cells:.1f} s (sweep outside cells: {wall - cells:.1f} s) |",
            f"| cells per hour | {len(rows) / wall * 3600:.0f} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="zoo bench runs for (a) and (b)")
    parser.add_argument("--nprocs", type=int, default=2)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--skip-grid", action="store_true", help="leave out (c), the slowest part")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="zoo-launchers-") as tmp:
        print(f"(a) launchers, {args.repeats} run(s), data {args.data_dir}")
        lines_a, checks_a, _ = part_a(args, Path(tmp))
        print("(b) fixed cost per cell")
        lines_b, checks_b = part_b(args, Path(tmp))
        lines_c = [] if args.skip_grid else (print("(c) default grid") or part_c(args, Path(tmp)))

    body = (f"Data `{args.data_dir}`, cnn / {args.optimizer} / constant / none, 1 epoch, batch 100 per "
            f"process; medians of {args.repeats} `zoo bench` run(s).\n\n"
            "(a) Launchers (training throughput from results.db `images_per_s`, all ranks' images)\n\n"
            "| launcher | procs | img/s | / single | cell wall s | wall - elapsed s | test acc |\n"
            "|---|---|---|---|---|---|---|\n"
            + "\n".join(lines_a) + "\n\n" + "\n".join(checks_a)
            + "\n\n(b) Fixed cost of a `single` cell (cell wall time minus the time inside training, "
            "validation and test; medians over cells)\n\n"
            "| start | cells | cell wall s | active s | fixed cost s | share |\n|---|---|---|---|---|---|\n"
            + "\n".join(lines_b)
            + "\n\n" + "\n".join(checks_b))
    if lines_c:
        body += "\n\n(c) Default grid of registry.toml, 1 epoch\n\n| | |\n|---|---|\n" + "\n".join(lines_c)
    print(body)
    write_section("launchers", body)


if __name__ == "__main__":
    main()
