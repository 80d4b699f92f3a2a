"""The ``zoo`` command: parse, call, print.  The only place that formats for a terminal.

Every expected failure is a ZooError, printed here as one line ``zoo: error: ...``.
"""

from __future__ import annotations

import sys
import warnings

import click

from zoo import __version__
from zoo.errors import ZooError


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, UserWarning) and category.__module__.startswith("zoo"):
        click.echo(f"zoo: warning: {message}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
@click.option("--registry", "registry_file", type=click.Path(dir_okay=False), default=None,
              help="registry.toml to use (default: $ZOO_REGISTRY, then the packaged one).")
@click.pass_context
def cli(ctx: click.Context, registry_file: str | None) -> None:
    """zoo: a plugin-based model zoo and benchmark runner on PaddlePaddle."""
    ctx.obj = {"registry_file": registry_file}


def _register_commands() -> None:
    # Command modules import nothing heavy at module level, so this stays cheap.
    from zoo.cli import bench_cmds, catalog_cmds, deploy_cmds, inspect_cmds, report_cmds, train_cmds
    from zoo.cli import serve_cmds

    for module in (catalog_cmds, train_cmds, inspect_cmds, bench_cmds, report_cmds, deploy_cmds,
                   serve_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs a command and returns its exit code.

    Project errors become one ``zoo: error:`` line and plugin warnings one
    ``zoo: warning:`` line each, never a traceback.
    """
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    # Paddle warns on import that it found no C++ compiler cache: noise for zoo's users,
    # who never compile Paddle extensions.
    warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
    try:
        code = cli.main(args=argv, prog_name="zoo", standalone_mode=False)
    except ZooError as exc:
        click.echo(f"zoo: error: {exc}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("zoo: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    finally:
        warnings.showwarning = previous
    return code if isinstance(code, int) else 0
