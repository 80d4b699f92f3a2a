"""Helpers shared by command modules: loading the catalogue and printing tables."""

from __future__ import annotations

import json
from typing import Any

import click

from zoo.errors import ConfigError


def bounded(key: str) -> click.ParamType:
    """A click type with the same limits as the grid files (zoo.config.BOUNDS)."""
    from zoo.config import BOUNDS

    low, high, low_open = BOUNDS[key]
    if isinstance(low, float):
        return click.FloatRange(low, high, min_open=low_open)
    return click.IntRange(int(low), int(high), min_open=low_open)


def catalog_from(ctx: click.Context, check: bool = True):
    """Load plugins on first use (never at import time), once per command."""
    from zoo.plugin import load_catalog

    if "catalog" not in ctx.obj:
        catalog = load_catalog(ctx.obj["registry_file"], check=False)
        if check:
            from zoo.config import check_names

            check_names(catalog.config, catalog.registry)
        ctx.obj["catalog"] = catalog
    return ctx.obj["catalog"]


def warn_unchecked(catalog) -> None:
    """Listing commands still work with a broken registry.toml, but say what is wrong."""
    from zoo.config import check_names

    try:
        check_names(catalog.config, catalog.registry)
    except ConfigError as exc:
        click.echo(f"zoo: warning: {exc}", err=True)


def format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(rows: list[dict[str, Any]], headers: list[str]) -> None:
    from tabulate import tabulate

    click.echo(tabulate([[row[h] for h in headers] for row in rows], headers=headers,
                        tablefmt="simple", disable_numparse=True))
