"""The sweep's budget: parsing, what counts and the exit codes (pure), then real sweeps
that stop when it is spent and go on when a rerun gives more."""

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


@pytest.mark.integration
def test_an_epoch_budget_stops_starting_cells_and_a_bigger_one_goes_on(tmp_path, pruning_env, tiny_mlp, bench,
                                                                       steps_run, pruning_steps, db_rows):
    out = tmp_path / "b"
    grid = ("--models", "slow", "--optimizers", "adam,sgd,momentum", "--epochs", "1", *tiny_mlp)
    proc = bench(out, *grid, "--budget-epochs", "2", env=pruning_env)
    assert proc.returncode == ExitCode.BUDGET, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if "budget" in line]
    assert lines == ["zoo: budget spent: 2 epochs trained of --budget-epochs 2; no more cells "
                     "started (rerun with a bigger budget to go on)"]
    assert [r["status"] for r in db_rows(out)] == ["ok", "ok"] and steps_run(pruning_env) == 2 * pruning_steps
    same = bench(out, *grid, "--budget-epochs", "2", env=pruning_env)
    assert same.returncode == ExitCode.BUDGET and steps_run(pruning_env) == 0
    more = bench(out, *grid, "--budget-epochs", "3", env=pruning_env)
    assert more.returncode == 0, more.stderr[-3000:]
    assert [r["status"] for r in db_rows(out)] == ["ok"] * 3 and steps_run(pruning_env) == pruning_steps


@pytest.mark.integration
def test_a_paused_cell_waits_for_a_bigger_budget_and_resumes_from_its_checkpoint(tmp_path, pruning_env, bench,
                                                                                 pruning_grid, db_rows,
                                                                                 pruning_steps, steps_run,
                                                                                 one, metrics, cell_dir):
    out = tmp_path / "b"
    proc = bench(out, *pruning_grid, "--prune", "asha", "--budget-epochs", "1", env=pruning_env)
    assert proc.returncode == ExitCode.BUDGET, proc.stderr[-3000:]
    (row,) = db_rows(out)
    assert row["optimizer"] == "adam" and row["status"] == "interrupted"
    assert row["reason"] == "budget spent after epoch 1 of 3; rerun to go on"
    assert steps_run(pruning_env) == pruning_steps
    more = bench(out, *pruning_grid, "--prune", "asha", "--budget-time", "1h", env=pruning_env)
    assert more.returncode == 0, more.stderr[-3000:]
    rows = db_rows(out)
    assert one(rows, optimizer="adam")["status"] == "ok" and one(rows, optimizer="stuck")["status"] == "pruned"
    assert metrics(cell_dir(out, "slow-adam"))["resumed_from"] == pruning_steps
    assert steps_run(pruning_env) == 2 * pruning_steps + pruning_steps


@pytest.mark.integration
@pytest.mark.parametrize("value", ["2x", "0", "-1h"])
def test_a_bad_budget_time_is_a_one_line_error(tmp_path, pruning_env, value, bench, pruning_grid,
                                               assert_one_line_error):
    proc = bench(tmp_path / "b", *pruning_grid, "--budget-time", value, env=pruning_env)
    assert_one_line_error(proc, f"--budget-time {value!r}")
    assert not (tmp_path / "b" / "results.db").exists()
