"""The sweep's budget and the exit codes of pruned and budget-stopped sweeps (pure)."""

from __future__ import annotations

import pytest

from zoo.bench.budget import Budget, parse_duration
from zoo.bench.optuna_pruner import rung_epochs
from zoo.errors import ConfigError
from zoo.status import FINAL, RETRYABLE_ON_REQUEST, ExitCode, Status


@pytest.mark.parametrize("text, seconds", [("90", 90), ("45s", 45), ("30m", 1800), ("2h", 7200),
                                           ("1.5h", 5400), ("1h30m", 5400), (" 2H ", 7200), ("1d", 86400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "2x", "2h-1m", "-5", "0", "0m", "inf", "nan", "1h 30"])
def test_bad_durations_are_one_line_errors(text):
    with pytest.raises(ConfigError, match="--budget-time"):
        parse_duration(text)


def test_no_options_no_budget():
    assert Budget.of_options(None, None) is None
    assert Budget.of_options(3, None) == Budget(3, None)
    assert Budget.of_options(None, "2h") == Budget(None, 7200)


def test_epochs_budget_counts_every_stored_epoch():
    rows = [{"epochs_done": 2, "wall_time": 5.0}, {"epochs_done": None, "wall_time": None},
            {"epochs_done": 1, "wall_time": 1.0}]
    assert Budget(epochs=4).spent(rows) == ""
    line = Budget(epochs=3).spent(rows)
    assert line.startswith("budget spent: 3 epochs trained of --budget-epochs 3") and "\n" not in line


def test_time_budget_counts_the_cells_own_time():
    rows = [{"epochs_done": 1, "wall_time": 40.0}, {"epochs_done": 1, "wall_time": 20.5}]
    assert Budget(seconds=61).spent(rows) == ""
    assert "cells ran 60 s of --budget-time 60 s" in Budget(seconds=60).spent(rows)


def test_pruned_is_a_result_that_retry_can_resume():
    assert Status.PRUNED in FINAL and Status.PRUNED in RETRYABLE_ON_REQUEST
    assert Status.PAUSED not in FINAL


def test_exit_codes():
    assert ExitCode.of_rows(["ok", "pruned"]) == ExitCode.OK
    assert ExitCode.of_rows(["ok", "pruned", "failed"]) == ExitCode.FAILED
    # cells left interrupted or running by a spent budget are no failure; a failure still is
    assert ExitCode.of_rows(["ok", "interrupted", "running"], budget_spent=True) == ExitCode.BUDGET
    assert ExitCode.of_rows(["ok", "interrupted"]) == ExitCode.FAILED
    assert ExitCode.of_rows(["ok", "diverged"], budget_spent=True) == ExitCode.FAILED
    assert ExitCode.of_rows(["ok"], interrupted=True, budget_spent=True) == ExitCode.INTERRUPTED
    assert ExitCode.of_run("paused") == ExitCode.OK


@pytest.mark.parametrize("args, epochs, rungs", [((1, 3, 0), 4, (1, 3)), ((1, 3, 0), 10, (1, 3, 9)),
                                                 ((1, 3, 1), 10, (3, 9)), ((2, 2, 0), 9, (2, 4, 8)),
                                                 ((1, 3, 0), 1, ())])
def test_asha_pauses_only_at_its_rungs(args, epochs, rungs):
    assert rung_epochs(*args)(epochs) == rungs
