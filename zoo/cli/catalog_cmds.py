"""``zoo list`` and ``zoo plugins``: what is registered and where it comes from."""

from __future__ import annotations

import click

from zoo import kinds
from zoo.cli.common import catalog_from, echo_json, echo_table, format_params, warn_unchecked


def as_glob(pattern: str) -> str:
    """A pattern without glob characters matches as a substring (``resnet``: every ResNet)."""
    return pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"


@click.command("list", help=f"""List registered entries, optionally of one KIND:
{", ".join(kinds.kind_names())} (singular works too).""")
@click.argument("kind", required=False)
@click.option("--filter", "include", multiple=True, metavar="PATTERN",
              help="Only names matching PATTERN: a glob, or a substring when it has no "
                   "*?[ (repeatable).")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Leave out names matching PATTERN (as --filter; repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_command(ctx, kind, include, exclude, as_json):
    catalog = catalog_from(ctx, check=False)
    warn_unchecked(catalog)
    include, exclude = [as_glob(p) for p in include], [as_glob(p) for p in exclude]
    rows = [{"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution,
             "description": e.description, "defaults": catalog.params(e.kind, e.name)}
            for e in catalog.registry.entries(kind, include, exclude)]
    if as_json:
        echo_json(rows)
    elif not rows:
        click.echo("no entries match", err=True)
    else:
        for row in rows:
            row["defaults"] = format_params(row["defaults"])
        echo_table(rows, ["kind", "name", "plugin", "description", "defaults"])


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins_command(ctx, as_json):
    """List plugins: name, version, source, hooks, built-in or third-party, status."""
    catalog = catalog_from(ctx, check=False)
    rows = [{"name": p.name, "distribution": p.distribution, "version": p.version,
             "source": p.source, "type": "built-in" if p.builtin else "third-party",
             "hooks": [h.removeprefix("zoo_register_") for h in p.hooks],
             "status": p.status, "error": p.error} for p in catalog.plugins]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        row["hooks"] = ", ".join(row["hooks"]) or "-"
        row["version"] = f"{row['distribution']} {row['version']}"
        if row["error"]:
            row["status"] = f"{row['status']}: {row['error']}"
    echo_table(rows, ["name", "version", "type", "hooks", "status"])


COMMANDS = [list_command, plugins_command]
