"""`zoo results`' other views: --profile KIND (zoo.bench.profiles) and --leaderboard
(zoo.bench.leaderboard)."""

from __future__ import annotations

import json

import click


def _write(headers: list[str], rows: list[list[str]], fmt: str) -> str:
    from zoo.cli.results_cmds import write_table

    return write_table(fmt, headers, rows)


def render_leaderboard(summaries: list[dict], rows: list[dict], run_dir, fmt: str,
                       axes: list[str] | tuple[str, ...] = ()) -> str:
    from zoo.bench.infer_store import inference_rows
    from zoo.bench.leaderboard import leaderboard, text
    from zoo.bench.store import open_existing
    from zoo.bench.tables import COMBINATION, axis_text

    store = open_existing(run_dir)
    try:
        inference = inference_rows(store)
    finally:
        store.close()
    columns, lines = leaderboard(summaries, rows, inference, COMBINATION + list(axes))
    if fmt == "json":
        return json.dumps(lines, indent=2)
    if fmt == "csv":  # full precision, as a results file should
        return _write(columns, [["" if line[c] is None else line[c] for c in columns] for line in lines], fmt)
    # An axis value is a setting, not a measurement: 1e-05 must not print as 0.0000.
    shown = {c: axis_text if c in axes else text for c in columns}
    return _write(columns, [[shown[c](line[c]) for c in columns] for line in lines], fmt)


def render_profile(summaries: list[dict], kind: str, group_by: str | None, fmt: str) -> str:
    from zoo.bench.profiles import TAU_MAX, as_data, build, kind_field, table, workload_fields

    compared = kind_field(kind)
    fields = workload_fields(compared, [f.strip() for f in group_by.split(",") if f.strip()]
                             if group_by else None)
    profile = build(summaries, compared, fields)
    for line in profile.missing():
        click.echo(f"note: {line}", err=True)
    if fmt == "json":
        return json.dumps(as_data(profile), indent=2)
    headers, rows = table(profile)
    if fmt != "csv":
        click.echo(f"performance profile of {kind} over {len(profile.workloads)} workloads "
                   f"({' x '.join(fields)} x target): ratio = time to target / the fastest "
                   f"{compared}'s there; score = integral of rho over [1, {TAU_MAX:g}] / "
                   f"{TAU_MAX - 1:g}", err=True)
    return _write(headers, rows, fmt)
