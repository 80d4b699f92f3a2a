"""``zoo results``: the tables of a bench run (also while it runs)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from zoo.bench.best import CRITERIA, DEFAULT_BY, marked
from zoo.cli.common import echo_json

FORMATS = ["table", "markdown", "csv", "json"]
SORTS = ["combination", "val_acc", "acc", "time", "images_per_s", "model", "optimizer"]


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


def note_statistics(summaries, axes: list[str] | tuple[str, ...] = ()) -> None:
    """The lines under a results table on how sure it is (stderr: json/csv stay parseable)."""
    from zoo.bench.stats_tables import notes

    for line in notes(summaries, marked(summaries), axes):
        click.echo(line, err=True)


def render(summaries, fmt: str, sort: str | None, winner: dict | None = None,
           axes: list[str] | tuple[str, ...] = ()) -> str:
    """The training table; json and csv rows are the summaries themselves, each with its
    cell id, its folder relative to the sweep folder, whether it is ``winner``, and the
    value of each of the sweep's varied ``axes`` (the same columns in every row)."""
    from zoo.bench.best import is_winner
    from zoo.bench.stats_tables import flat
    from zoo.bench.tables import pivot, sort_summaries

    if fmt in ("json", "csv"):
        rows = [{**s, "best": is_winner(s, winner)} for s in sort_summaries(summaries, sort)]
        # csv has no nested values: values by seed become "seed:value" words.
        return write_table(fmt, rows=[flat(r) for r in rows] if fmt == "csv" else rows)
    headers, table = pivot(summaries, sort, winner, axes)
    return write_table(fmt, headers, table)


def write_table(fmt: str, headers: list[str] | None = None, table: list[list] | None = None,
                rows: list[dict] | None = None) -> str:
    """One writer of zoo results' tables: ``headers`` and ``table`` (or ``rows``, dicts
    with the columns as keys) as an aligned or markdown table, csv (lists joined by
    spaces) or json (a list of objects)."""
    if rows is None:
        rows = [dict(zip(headers or [], row)) for row in table or []]
    if headers is None:
        headers = list(rows[0]) if rows else []
    if fmt == "json":
        import json

        return json.dumps(rows, indent=2, default=str)
    if fmt == "csv":
        buffer = io.StringIO()
        if headers:
            writer = csv.DictWriter(buffer, fieldnames=headers)
            writer.writeheader()
            writer.writerows({k: " ".join(v) if isinstance(v, list) else v for k, v in r.items()}
                             for r in rows)
        return buffer.getvalue().rstrip("\n")
    from tabulate import tabulate

    return tabulate([[r[h] for h in headers] for r in rows], headers=headers, disable_numparse=True,
                    tablefmt="github" if fmt == "markdown" else "simple")


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
    axes = store.get_meta("axes") or []
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
        headers, table = compare(summarize(rows, axes), summarize(other_rows, axes), axes)
        click.echo(write_table(fmt, headers, table))
        return 0
    _note_left_out(run_dir, left_out)
    _note_reruns(rows)
    summaries = summarize(rows, axes)
    if profile or leaderboard:
        from zoo.cli.results_views import render_leaderboard, render_profile

        click.echo(render_profile(summaries, profile, group_by, fmt) if profile
                   else render_leaderboard(summaries, rows, Path(run_dir), fmt, axes))
        return 0
    if best:
        from zoo.bench.best import pick

        winner = pick(summaries, by)
        click.echo(f"best by {CRITERIA[by][2]}: {winner['cell_dir']} (zoo export {run_dir} --best"
                   f"{'' if by == 'val_acc' else f' --by {by}'} exports it)", err=True)
        click.echo(render([winner], fmt, sort, winner, axes))
        return 0
    click.echo(render(summaries, fmt, sort, marked(summaries), axes))
    note_statistics(summaries, axes)
    # json and csv stay one table that parses; --inference gives the other one.
    served = render_inference(Path(run_dir), fmt) if fmt in ("table", "markdown") else ""
    if served:
        click.echo(f"\ninference (zoo bench-infer; latency at batch 1):\n{served}")
    return 0


COMMANDS = [results_command]
