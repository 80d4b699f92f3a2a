"""``zoo bench`` (the sweep) and ``zoo results`` (its tables)."""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import replace
from pathlib import Path

import click

from zoo import kinds
from zoo.bench.best import CRITERIA, DEFAULT_BY, marked
from zoo.bench.preflight import DEFAULT_STEP_TIMEOUT
from zoo.cli.common import bounded, catalog_from, echo_json
from zoo.status import RETRYABLE_ON_REQUEST as RETRYABLE
from zoo.status import ExitCode, Status

FORMATS = ["table", "markdown", "csv", "json"]
SORTS = ["combination", "val_acc", "acc", "time", "images_per_s", "model", "optimizer"]


def merged_grid(catalog, opts: dict) -> dict:
    """The sweep's grid: registry.toml's [grid] < --grid FILE < command-line options."""
    from zoo.bench.grid import load_grid_file, split_list

    grid = dict(catalog.config.grid)
    grid.update({"repeat": 1, "set": [], "target_acc": None, "limit_train": None})
    if opts["grid"]:
        grid.update(load_grid_file(Path(opts["grid"])))
    for axis in [*(kind.axis for kind in kinds.swept()), "devices"]:
        value = split_list(opts[axis])
        if value is not None:
            grid[axis] = value
    for key in ("nprocs", "epochs", "batch_size", "seed", "repeat", "target_acc", "limit_train"):
        if opts.get(key) is not None:
            grid[key] = opts[key]
    if opts["sets"]:
        grid["set"] = list(grid.get("set", [])) + list(opts["sets"])
    return grid


def _executor_sets(grid: dict) -> list[str]:
    """Take ``executor.P=V`` out of the grid's --set list: an executor is no axis."""
    sets = list(grid.get("set", []))
    mine = [item for item in sets if item.strip().startswith("executor.")]
    grid["set"] = [item for item in sets if item not in mine]
    return mine


def build_executor(catalog, opts: dict, sets: list[str]):
    """The sweep's executor with its parameters: --set executor.P=V < the named options."""
    from zoo.errors import ConfigError, RegistryError
    from zoo.job import parse_sets

    name = opts["executor"]
    if name not in catalog.registry.names("executors"):
        known = ", ".join(catalog.registry.names("executors")) or \
            'none (add "zoo.plugins.executors" to [plugins] builtin in registry.toml)'
        raise ConfigError(f"--executor {name}: unknown executor (known: {known})")
    params = parse_sets(sets).get("executors", {})
    declared = catalog.params("executors", name)
    for option, param in (("--jobs", "jobs"), ("--threads", "threads"), ("--ray-address", "address")):
        if opts[param] is None:
            continue
        if param not in declared:
            raise ConfigError(f"{option}: executor '{name}' takes no {param} "
                              f"(its parameters: {', '.join(declared) or 'none'})")
        params[param] = opts[param]
    try:
        executor = catalog.build("executors", name, params)
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    executor.check()
    return executor


def axis_options(command):
    """One option per swept kind (zoo.kinds): names or globs, comma separated."""
    for kind in reversed(kinds.swept()):
        command = click.option(kind.flag, kind.axis, default=None, metavar="NAMES",
                               help=f"{kind.name.capitalize()}: comma list of names or globs "
                                    f"(default: registry.toml's [grid]).")(command)
    return command


def _absolute(path: str | None) -> str | None:
    # Cells run in their own folders: a relative path would point somewhere else there.
    return str(Path(path).absolute()) if path else None


def data_line(info) -> str:
    train, val, test = info.sizes
    return (f"data: {info.source} ({train} train / {val} val / {test} test images, "
            f"fingerprint {info.fingerprint[:12]})")


def _note_left_out(run_dir, count: int) -> None:
    if count:
        click.echo(f"note: {count} stored results in {run_dir} are not in its latest grid "
                   f"(other settings or combinations); --all lists them", err=True)


def _note_reruns(rows: list[dict]) -> None:
    """Cells with no result run again when the sweep is rerun: say how many, and why."""
    from collections import Counter

    from zoo.status import FINAL

    pending = Counter(r["status"] for r in rows if r["status"] not in FINAL)
    if pending:
        kinds = ", ".join(f"{n} {status}" for status, n in sorted(pending.items()))
        click.echo(f"note: {sum(pending.values())} cells have no result yet ({kinds}); the same "
                   f"zoo bench command reruns them (resuming from their checkpoints)", err=True)


def _note_statistics(summaries) -> None:
    from zoo.bench.stats_tables import notes

    for line in notes(summaries, marked(summaries)):
        click.echo(line, err=True)


def render(summaries, fmt: str, sort: str | None, winner: dict | None = None) -> str:
    """The training table; json and csv rows are the summaries themselves, each with its
    cell id, its folder relative to the sweep folder and whether it is ``winner``."""
    from tabulate import tabulate

    from zoo.bench.best import is_winner
    from zoo.bench.stats_tables import flat
    from zoo.bench.tables import pivot, sort_summaries

    if fmt in ("json", "csv"):
        rows = [{**s, "best": is_winner(s, winner)} for s in sort_summaries(summaries, sort)]
    if fmt == "json":
        import json

        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(flat({**r, "cell_dirs": " ".join(r["cell_dirs"])}) for r in rows)
        return buffer.getvalue().rstrip("\n")
    headers, table = pivot(summaries, sort, winner)
    return tabulate(table, headers=headers, tablefmt="github" if fmt == "markdown" else "simple",
                    disable_numparse=True)


@click.command("bench")
@axis_options
@click.option("--devices", default=None, help="cpu, gpu, gpu:N (comma list).")
@click.option("--grid", type=click.Path(dir_okay=False), default=None, help="A named grid (.toml).")
@click.option("--nprocs", type=bounded("nprocs"), default=None, help="Processes per cell for launch/spawn.")
@click.option("--epochs", type=bounded("epochs"), default=None)
@click.option("--batch-size", type=bounded("batch_size"), default=None, help="Per-process batch size.")
@click.option("--seed", type=bounded("seed"), default=None)
@click.option("--repeat", type=bounded("repeat"), default=None,
              help="Seeds per cell (mean ± std, 95% interval).")
@click.option("--target-acc", type=bounded("target_acc"), default=None,
              help="Also record the time to reach this validation accuracy.")
@click.option("--target-from", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Set each workload's target to the median best validation accuracy of the "
                   "seeds of the best configuration in sweep DIR (AlgoPerf's rule).")
@click.option("--limit-train", type=bounded("limit_train"), default=None, metavar="N",
              help="Train on a deterministic, class-balanced subset of N training images "
                   "(part of each cell's identity).")
@click.option("--set", "sets", multiple=True, metavar="KIND.PARAM=VALUE")
@click.option("--data-dir", "data_dirs", multiple=True, metavar="[NAME=]DIR",
              help="Folder of every dataset (DIR), or of one dataset (NAME=DIR, repeatable; "
                   "also a grid file's [data_dirs] table).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/bench", show_default=True)
@click.option("--cell-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds before a cell is killed and recorded as timeout.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=0,
              help="Also checkpoint every N steps, so a killed cell loses less.")
@click.option("--force", is_flag=True, help="Rerun every cell, also those with a result.")
@click.option("--retry", multiple=True, type=click.Choice(sorted(s.value for s in RETRYABLE)),
              help="Also rerun cells that ended with this status (failed, timeout and "
                   "interrupted cells always rerun).")
@click.option("--preflight-timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_STEP_TIMEOUT, show_default=True,
              help="Seconds each preflight step (loading the data, building one entry) may take.")
@click.option("--cold-start", is_flag=True,
              help="Start every cell as a fresh process (default: fork single cells from a "
                   "warm process that has paddle imported).")
@click.option("--executor", default="local", show_default=True,
              help="Where cells run: local (this machine) or ray (a Ray cluster).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="local: cells at once (a cell of N processes holds N); default 1.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads per training process (part of each cell's identity); default: "
                   "1, or each cell's share of the CPUs with --jobs.")
@click.option("--ray-address", "address", default=None, metavar="ADDR",
              help="ray: the cluster to join (auto: the running one); default: a local Ray "
                   "started and stopped by zoo.")
@click.option("--dry-run", is_flag=True,
              help="Check that each dataset's data is there (downloading nothing), list the "
                   "cells and exit.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--report", is_flag=True,
              help="Rewrite DIR/report.html after every cell (needs zoo[report]).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--sort", type=click.Choice(SORTS), default=None)
@click.pass_context
def bench_command(ctx, dry_run, quiet, fmt, sort, **opts):
    """Train every combination of the grid and tabulate accuracy and wall time per device.

    Exit status: 0 when every cell finished ok or skipped, 1 otherwise, 4 when every cell
    was skipped (nothing ran here), 130 when interrupted.
    """
    from zoo.bench.grid import expand, with_identities
    from zoo.bench.preflight import preflight
    from zoo.bench.runner import SweepOptions, describe_changes, grid_changes, run_sweep
    from zoo.bench.store import Store
    from zoo.bench.tables import summarize
    from zoo.paths import make_dir

    from zoo.bench.data_dirs import resolve_data_dirs
    from zoo.bench.preflight import check_data

    catalog = catalog_from(ctx)
    grid = merged_grid(catalog, opts)
    data_dirs = resolve_data_dirs(catalog, opts["data_dirs"], grid.pop("data_dirs", None),
                                  f"--grid {opts['grid']}")
    executor = build_executor(catalog, opts, _executor_sets(grid))
    # The executor decides the threads per process, and they change a cell's numbers.
    cells = [replace(c, threads=executor.threads) for c in expand(catalog, grid)]
    if dry_run:
        for line in check_data(catalog, cells, data_dirs, opts["preflight_timeout"]):
            click.echo(line, err=True)
        for cell in cells:
            click.echo(cell.slug)
        click.echo(f"{len(cells)} cells")
        return 0
    out = make_dir(Path(opts["out"]).absolute(), "--out")
    checked = preflight(catalog, cells, data_dirs, opts["preflight_timeout"])
    cells = with_identities(catalog, cells, {key: info.fingerprint for key, info in checked.data.items()})
    from zoo.bench.targets import with_targets

    cells, shown = with_targets(cells, opts["target_from"], grid.get("target_acc"))
    for line in shown:
        click.echo(line, err=True)
    if (out / "results.db").exists():
        new, stale = grid_changes(out / "results.db", cells)
        if stale:
            click.echo(f"note: {len(stale)} stored results in {out} do not match this grid; "
                       f"they are kept apart, not mixed in:", err=True)
            for line in describe_changes(stale, cells):
                click.echo(f"  {line}", err=True)
        if new and len(new) < len(cells):
            click.echo(f"note: {len(new)} new cells in this grid: "
                       f"{', '.join(c.slug for c in new[:10])}{' ...' if len(new) > 10 else ''}", err=True)
    options = SweepOptions(out=out, data_dir=data_dirs.default, data_dirs=dict(data_dirs.named),
                           registry_file=_absolute(ctx.obj["registry_file"]),
                           cell_timeout=opts["cell_timeout"], force=opts["force"],
                           checkpoint_every=opts["checkpoint_every"],
                           warm_start=not opts["cold_start"],
                           retry=frozenset(Status(s) for s in opts["retry"]), preflight=checked)
    from zoo.cli.report_cmds import with_live_report
    from zoo.cli.sweep_console import SweepConsole

    summary = run_sweep(catalog, cells, options, with_live_report(SweepConsole(quiet), out, opts["report"]),
                        executor)
    store = Store(out / "results.db", readonly=True)
    keys = {(c.key, c.seed) for c in cells}
    rows = [r for r in store.rows() if (r["cell"], r["seed"]) in keys]
    store.close()
    for info in checked.data.values():
        click.echo(data_line(info), err=True)
    summaries = summarize(rows)
    click.echo(render(summaries, fmt, sort, marked(summaries)))
    _note_statistics(summaries)
    if summary.interrupted:
        click.echo("zoo: interrupted; run the same command again to resume", err=True)
    elif summary.exit_code == ExitCode.ALL_SKIPPED:
        click.echo("zoo: every cell was skipped, nothing ran here (the reason column says why)",
                   err=True)
    return summary.exit_code


def render_inference(run_dir: Path, fmt: str, show_all: bool = False) -> str:
    """The inference table of a run (``zoo bench-infer``); "" when it has none."""
    from zoo.bench.infer_store import inference_rows
    from zoo.bench.infer_tables import render as render_rows
    from zoo.bench.store import open_existing

    from zoo.bench.serve_store import serving_rows
    from zoo.bench.serve_tables import render as render_serving

    store = open_existing(run_dir)
    try:
        rows = store.rows() if show_all else store.grid_rows()[0]
        text = render_rows(inference_rows(store), rows, fmt)
        # json and csv stay one table that parses; --serving gives the HTTP one alone.
        served = render_serving(serving_rows(store), rows, fmt) if fmt in ("table", "markdown") else ""
        return "\n\n".join(part for part in (text, served and f"over HTTP (zoo bench-serve):\n{served}") if part)
    finally:
        store.close()


def render_serving_only(run_dir: Path, fmt: str, show_all: bool = False) -> str:
    """The steps zoo bench-serve recorded for a run's cells; "" when it has none."""
    from zoo.bench.serve_store import serving_rows
    from zoo.bench.serve_tables import render as render_serving
    from zoo.bench.store import open_existing

    store = open_existing(run_dir)
    try:
        return render_serving(serving_rows(store), store.rows() if show_all else store.grid_rows()[0], fmt)
    finally:
        store.close()


@click.command("results")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--sort", type=click.Choice(SORTS), default=None)
@click.option("--compare", "other", type=click.Path(file_okay=False), default=None,
              help="Another run directory to compare with.")
@click.option("--all", "show_all", is_flag=True, help="Every stored row, one per cell and seed.")
@click.option("--inference", is_flag=True,
              help="Only the inference table (zoo bench-infer), e.g. with --format json.")
@click.option("--best", is_flag=True,
              help="Only the winner: the highest final validation accuracy (never test accuracy).")
@click.option("--by", type=click.Choice(list(CRITERIA)), default=DEFAULT_BY, show_default=True,
              help="What --best ranks by.")
@click.option("--serving", is_flag=True,
              help="Only the HTTP serving table (zoo bench-serve --sweep), e.g. with --format json.")
@click.option("--profile", "profile", default=None, metavar="KIND",
              help="Only the performance profile of KIND's entries (e.g. optimizers) over the "
                   "workloads, by time to target (needs zoo bench --target-acc).")
@click.option("--group-by", default=None, metavar="FIELDS",
              help="--profile: what makes a workload (default: dataset,model,device).")
@click.option("--leaderboard", is_flag=True,
              help="Only the leaderboard columns: model, params, epochs, seeds, val and test "
                   "accuracy with 95% intervals, train img/s, serving img/s and p50 per backend.")
def results_command(run_dir, fmt, sort, other, show_all, inference, serving, best, by, profile,
                    group_by, leaderboard):
    """Show the results of a bench run (also while it is running): the training table,
    then the inference table when zoo bench-infer measured the run."""
    if serving:
        click.echo(render_serving_only(Path(run_dir), fmt, show_all))
        return 0
    if inference:
        click.echo(render_inference(Path(run_dir), fmt, show_all))
        return 0
    from tabulate import tabulate

    from zoo.bench.store import open_existing
    from zoo.bench.tables import compare, summarize

    store = open_existing(Path(run_dir))
    all_rows = store.rows()
    # Results of an older grid (other epochs, parameters...) share combinations with the
    # current one; summarizing them together would average different settings.
    rows, left_out = store.grid_rows()
    store.close()
    if show_all:
        if fmt == "json":
            from zoo.bench.best import cell_folder

            # The folder relative to DIR, as in the other rows: still right after a move.
            echo_json([{**r, "cell_dir": cell_folder(r)} for r in all_rows])
        else:
            click.echo(tabulate(
                [[r["slug"], r["status"], r["test_acc"], r["wall_time"], r["reason"]] for r in all_rows],
                headers=["cell", "status", "test acc", "wall s", "reason"]))
        return 0
    if other:
        other_store = open_existing(Path(other))
        other_rows, other_left_out = other_store.grid_rows()
        other_store.close()
        _note_left_out(run_dir, left_out)
        _note_left_out(other, other_left_out)
        headers, table = compare(summarize(rows), summarize(other_rows))
        if fmt in ("json", "csv"):
            data = [dict(zip(headers, row)) for row in table]
            if fmt == "json":
                echo_json(data)
            else:
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(headers)
                writer.writerows(table)
                click.echo(buffer.getvalue().rstrip("\n"))
        else:
            click.echo(tabulate(table, headers=headers, disable_numparse=True,
                                tablefmt="github" if fmt == "markdown" else "simple"))
        return 0
    _note_left_out(run_dir, left_out)
    _note_reruns(rows)
    summaries = summarize(rows)
    if profile or leaderboard:
        from zoo.cli.results_views import render_leaderboard, render_profile

        click.echo(render_profile(summaries, profile, group_by, fmt) if profile
                   else render_leaderboard(summaries, rows, Path(run_dir), fmt))
        return 0
    if best:
        from zoo.bench.best import pick

        winner = pick(summaries, by)
        click.echo(f"best by {CRITERIA[by][2]}: {winner['cell_dir']} (zoo export {run_dir} --best"
                   f"{'' if by == 'val_acc' else f' --by {by}'} exports it)", err=True)
        click.echo(render([winner], fmt, sort, winner))
        return 0
    click.echo(render(summaries, fmt, sort, marked(summaries)))
    _note_statistics(summaries)
    # json and csv stay one table that parses; --inference gives the other one.
    served = render_inference(Path(run_dir), fmt) if fmt in ("table", "markdown") else ""
    if served:
        click.echo(f"\ninference (zoo bench-infer; latency at batch 1):\n{served}")
    return 0


COMMANDS = [bench_command, results_command]
