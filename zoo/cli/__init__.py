"""The ``zoo`` command: parse, call, print.  The only place that formats for a terminal.

Every expected failure is a ZooError, printed here as one line ``zoo: error: ...``.
"""

from __future__ import annotations

import errno
import sys
import warnings

import click

from zoo import __version__
from zoo.errors import ZooError, printable


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, UserWarning) and category.__module__.startswith("zoo"):
        click.echo(f"zoo: warning: {printable(str(message))}", err=True)
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
    from zoo.cli import results_cmds, serve_cmds

    for module in (catalog_cmds, train_cmds, inspect_cmds, bench_cmds, results_cmds, report_cmds,
                   deploy_cmds, serve_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def usage_error_line(exc: click.ClickException) -> str:
    """Click's usage, range and file errors on one line, like zoo's own errors, with the
    command whose ``-h`` explains the options (click prints usage and a hint on 4 lines)."""
    from zoo.errors import one_line

    text = one_line(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and isinstance(exc, click.UsageError):
        text += f" (see {ctx.command_path} -h)"
    return text


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
        # Escaped: a file or class name holding a newline must not split the one line.
        click.echo(f"zoo: error: {printable(str(exc))}", err=True)
        return exc.exit_code
    except OSError as exc:
        # A name too long for the file system can reach any lookup of a user's path
        # (Path.exists and is_file raise it); it is always the input's fault, never zoo's.
        if exc.errno != errno.ENAMETOOLONG:
            raise
        click.echo(f"zoo: error: {printable(str(exc.filename))}: a name in this path is longer "
                   "than the file system allows; choose a shorter one", err=True)
        return 2
    except click.Abort:
        click.echo("zoo: aborted", err=True)
        return 130
    except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:  # plain `zoo`: the help
        exc.show()
        return ZooError.exit_code
    except click.ClickException as exc:
        click.echo(f"zoo: error: {usage_error_line(exc)}", err=True)
        return ZooError.exit_code
    finally:
        warnings.showwarning = previous
    return code if isinstance(code, int) else 0
