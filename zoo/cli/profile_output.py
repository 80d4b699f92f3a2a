"""`zoo results --profile KIND`: the performance profile table (zoo.bench.profiles)."""

from __future__ import annotations

import csv
import io
import json

import click


def render_profile(summaries: list[dict], kind: str, group_by: str | None, fmt: str) -> str:
    from tabulate import tabulate

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
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    click.echo(f"performance profile of {kind} over {len(profile.workloads)} workloads "
               f"({' x '.join(fields)} x target): ratio = time to target / the fastest {compared}'s "
               f"there; score = integral of rho over [1, {TAU_MAX:g}] / {TAU_MAX - 1:g}", err=True)
    return tabulate(rows, headers=headers, tablefmt="github" if fmt == "markdown" else "simple",
                    disable_numparse=True)
