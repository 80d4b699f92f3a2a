"""``zoo bench``: parse the options into a sweep spec (zoo.bench.sweep), run it, print."""

from __future__ import annotations

import click

from zoo import kinds
from zoo.bench.best import marked
from zoo.bench.preflight import DEFAULT_STEP_TIMEOUT
from zoo.cli.common import bounded, catalog_from
from zoo.cli.results_cmds import FORMATS, SORTS, note_statistics, render
from zoo.exec.executor import DEFAULT_EXECUTOR
from zoo.status import RETRYABLE_ON_REQUEST as RETRYABLE
from zoo.status import ExitCode


def axis_options(command):
    """One option per swept kind (zoo.kinds): names or globs, comma separated."""
    for kind in reversed(kinds.swept()):
        command = click.option(kind.flag, kind.axis, default=None, metavar="NAMES",
                               help=f"{kind.name.capitalize()}: comma list of names or globs "
                                    f"(default: registry.toml's [grid]).")(command)
    return command


def data_line(info) -> str:
    train, val, test = info.sizes
    return (f"data: {info.source} ({train} train / {val} val / {test} test images, "
            f"fingerprint {info.fingerprint[:12]})")


def spec_from_options(ctx: click.Context, opts: dict):
    """The sweep spec of ``zoo bench``'s options (click's keyword arguments)."""
    from zoo.bench.sweep import EXECUTOR_OPTIONS, build_spec

    selections = {kind.axis: opts.pop(kind.axis) for kind in kinds.swept()}
    executor_options = {param: opts.pop(param) for param in EXECUTOR_OPTIONS}
    return build_spec(catalog_from(ctx), grid_file=opts.pop("grid"), selections=selections,
                      executor_options=executor_options,
                      registry_file=ctx.obj["registry_file"], **opts)


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
@click.option("--set", "sets", multiple=True, metavar="KIND.PARAM=VALUE",
              help="A parameter of the entries that have it (repeatable); several values, "
                   "V1,V2 or a JSON list, make an axis: a cell per value.")
@click.option("--data-dir", "data_dirs", multiple=True, metavar="[NAME=]DIR",
              help="Folder of every dataset (DIR), or of one dataset (NAME=DIR, repeatable; "
                   "also a grid file's [data_dirs] table).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/bench", show_default=True)
@click.option("--cell-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds before a cell is killed and recorded as timeout.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=0,
              help="Also checkpoint every N steps, so a killed cell loses less.")
@click.option("--force", is_flag=True, help="Rerun every cell, also those with a result.")
@click.option("--prune", default="none", show_default=True, metavar="NAME",
              help="Early stopping after each epoch's validation: none, median, asha, "
                   "hyperband (the last three need zoo[search]); --set pruner.P=V.")
@click.option("--search", default=None, metavar="NAME",
              help="Which cells run: grid (every cell, the default), random, optuna (needs "
                   "zoo[search]); --set searcher.P=V.")
@click.option("--trials", type=click.IntRange(min=1), default=None, metavar="N",
              help="random, optuna: run N distinct cells of the space (a rerun goes on to N).")
@click.option("--budget-epochs", type=click.IntRange(min=1), default=None, metavar="E",
              help="Start no more cells once this grid's cells trained E epochs in all.")
@click.option("--budget-time", default=None, metavar="DURATION",
              help="Start no more cells once this grid's cells ran this long in all (2h, 45m, 90s).")
@click.option("--retry", multiple=True, type=click.Choice(sorted(s.value for s in RETRYABLE)),
              help="Also rerun cells that ended with this status (failed, timeout and "
                   "interrupted cells always rerun).")
@click.option("--preflight-timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_STEP_TIMEOUT, show_default=True,
              help="Seconds each preflight step (loading the data, building one entry) may take.")
@click.option("--cold-start", is_flag=True,
              help="Start every cell as a fresh process (default: fork single cells from a "
                   "warm process that has paddle imported).")
@click.option("--executor", default=DEFAULT_EXECUTOR, show_default=True,
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
def bench_command(ctx, dry_run, quiet, fmt, sort, report, **opts):
    """Train every combination of the grid and tabulate accuracy and wall time per device.

    Exit status: 0 when every cell finished ok, pruned or skipped, 1 otherwise, 4 when every
    cell was skipped (nothing ran here), 5 when the budget ran out first, 130 when interrupted.
    """
    from zoo.bench import sweep
    from zoo.bench.tables import summarize
    from zoo.cli.report_cmds import with_live_report
    from zoo.cli.sweep_console import SweepConsole

    catalog = catalog_from(ctx)
    planned = sweep.plan(catalog, spec_from_options(ctx, opts))
    if dry_run:
        for line in sweep.dry_run(catalog, planned):
            click.echo(line, err=True)
        for cell in planned.cells:
            click.echo(cell.slug)
        if planned.search is not None:
            click.echo(f"{planned.spec.trials} trials, asked of {planned.spec.search} as cells can start")
            return 0
        click.echo(f"{len(planned.cells)} cells")
        return 0
    out = planned.spec.out
    result = sweep.run(catalog, planned, with_live_report(SweepConsole(quiet), out, report),
                       note=lambda line: click.echo(line, err=True))
    for info in result.data:
        click.echo(data_line(info), err=True)
    summaries = summarize(result.rows, result.axes)
    click.echo(render(summaries, fmt, sort, marked(summaries), result.axes))
    note_statistics(summaries, result.axes)
    if result.summary.interrupted:
        click.echo("zoo: interrupted; run the same command again to resume", err=True)
    elif result.summary.budget:
        click.echo(f"zoo: {result.summary.budget}", err=True)
    elif result.summary.exit_code == ExitCode.ALL_SKIPPED:
        click.echo("zoo: every cell was skipped, nothing ran here (the reason column says why)",
                   err=True)
    return result.summary.exit_code


COMMANDS = [bench_command]
