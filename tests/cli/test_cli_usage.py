"""Click's own errors (unknown option, value out of range, bad choice, missing argument)
print as zoo's errors do: one line ``zoo: error: ...``, exit code 2, for every command."""

from __future__ import annotations

import click
import pytest

from zoo.cli import cli

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

COMMANDS = sorted(cli.commands)


def _dummy_arguments(command: click.Command) -> list[str]:
    """A value for each required positional argument, so only the option under test is wrong."""
    return ["x" for p in command.params if isinstance(p, click.Argument) and p.required]


def _out_of_range(param: click.Option) -> str:
    kind = param.type
    if kind.min is not None:
        return str(kind.min - 1 if isinstance(kind, click.IntRange) else kind.min - 0.5)
    return str(kind.max + 1)


def _first(command: click.Command, types) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option)
                 and isinstance(p.type, types) and not p.multiple), None)


def assert_usage_error(proc, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_option_is_one_line_with_exit_code_2(name, run_zoo):
    proc = run_zoo(name, "--no-such-option", *_dummy_arguments(cli.commands[name]))
    assert_usage_error(proc, "--no-such-option", f"zoo {name} -h")


@pytest.mark.parametrize("name", [n for n in COMMANDS
                                  if _first(cli.commands[n], (click.IntRange, click.FloatRange))])
def test_a_value_out_of_range_is_one_line_with_exit_code_2(name, run_zoo):
    command = cli.commands[name]
    option = _first(command, (click.IntRange, click.FloatRange))
    flag = max(option.opts, key=len)
    proc = run_zoo(name, flag, _out_of_range(option), *_dummy_arguments(command))
    assert_usage_error(proc, flag, "range")


@pytest.mark.parametrize("name", [n for n in COMMANDS if _first(cli.commands[n], click.Choice)])
def test_a_bad_choice_is_one_line_with_exit_code_2(name, run_zoo):
    command = cli.commands[name]
    option = _first(command, click.Choice)
    flag = max(option.opts, key=len)
    proc = run_zoo(name, flag, "no-such-choice", *_dummy_arguments(command))
    assert_usage_error(proc, flag, "no-such-choice")


def test_every_command_is_covered_by_a_range_or_choice_check_where_it_has_one():
    # The loops above derive their cases from the commands themselves: a new command or
    # option is checked without editing this file.  At least these must be among them.
    ranged = {n for n in COMMANDS if _first(cli.commands[n], (click.IntRange, click.FloatRange))}
    assert {"bench", "train", "predict", "bench-infer", "board", "export", "inspect"} <= ranged


def test_an_unknown_command_and_a_missing_argument_are_one_line(run_zoo):
    assert_usage_error(run_zoo("no-such-command"), "no-such-command")
    assert_usage_error(run_zoo("results"), "RUN_DIR", "zoo results -h")
