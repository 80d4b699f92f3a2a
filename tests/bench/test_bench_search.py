"""Search strategies in real sweeps: random (seeded, reproducible, N distinct trials, no
Optuna needed), optuna (a study that a rerun continues, no repeated cell, shared with the
pruner), a runner killed with SIGKILL mid-search, --jobs 2, and zoo without Optuna.

Cells are the built-in mlp (16 hidden units) on the bundled MNIST sample, 1 epoch of
200 images (2 steps); the kill test trains the throwaway ``slow`` MLP so that it can be
killed while a cell runs.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from zoo.bench.optuna_pruner import TRIAL_ATTR, open_study

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

SMALL = ("--models", "mlp", "--set", "model.hidden1=16", "--limit-train", "200")
# 2 optimizers x 2 learning rates: 4 points
SPACE = ("--optimizers", "adam,sgd", "--set", "optimizer.learning_rate=0.01,0.1")
LOG_RANGE = '[space]\n"optimizer.learning_rate" = { low = 1e-4, high = 1e-1, log = true }\n'


@pytest.fixture
def env(tmp_path, monkeypatch, faulty_kit):
    kit = faulty_kit(tmp_path, monkeypatch)
    return {**kit.env(), "ZOO_TEST_DELAY": "0"}


@pytest.fixture(scope="session")
def planned(bench):
    def planned(out, *args, env) -> list[str]:
        """The cells' folder names a --dry-run lists (nothing trains)."""
        proc = bench(out, *args, "--dry-run", env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [line for line in proc.stdout.splitlines() if line.startswith("mnist-")]

    return planned


def lr_of(slug: str) -> float:
    return float(re.search(r"-lr([0-9.e+-]+?)-s\d+-", slug).group(1))


def search_trials(out) -> dict[str, object]:
    """The study's named trials by cell; fails on a duplicate name."""
    found = [t for t in open_study(out).get_trials(deepcopy=False) if TRIAL_ATTR in t.user_attrs]
    names = [t.user_attrs[TRIAL_ATTR] for t in found]
    assert len(names) == len(set(names)), names
    return dict(zip(names, found))


@pytest.fixture(scope="session")
def assert_store_and_study_agree(db_rows):
    def assert_store_and_study_agree(out) -> None:
        """One named trial per row, in the same end, with the row's parameters."""
        by_cell, rows = search_trials(out), db_rows(out)
        assert sorted(by_cell) == sorted(f"{r['cell']}:{r['seed']}" for r in rows)
        for row in rows:
            trial = by_cell[f"{row['cell']}:{row['seed']}"]
            assert trial.params.get("optimizers", row["optimizer"]) == row["optimizer"]
            trained = json.loads(row["identity"])["params"]["optimizers"]["learning_rate"]
            assert trial.params["optimizer.learning_rate"] == pytest.approx(trained)
            if row["status"] == "ok":
                assert trial.state.name == "COMPLETE" and trial.value == pytest.approx(row["val_acc"])
            else:
                assert row["status"] == "pruned" and trial.state.name == "PRUNED", row["status"]
        # Every other trial is a repeat of a cell, told what that cell got and never run.
        named = {t.number for t in by_cell.values()}
        for trial in open_study(out).get_trials(deepcopy=False):
            if trial.number not in named:
                assert trial.state.is_finished() and trial.params, trial
                assert any(trial.params == t.params for t in by_cell.values()), trial.params

    return assert_store_and_study_agree


def test_random_is_seeded_reproducible_and_draws_from_a_log_range(tmp_path, env, planned):
    grid = tmp_path / "space.toml"
    grid.write_text(LOG_RANGE)
    args = (*SMALL, "--optimizers", "adam", "--grid", str(grid), "--search", "random", "--trials", "5")
    first = planned(tmp_path / "a", *args, env=env)
    assert len(first) == 5 and len(set(first)) == 5
    keyed = tmp_path / "keyed.toml"  # the same search named by the grid file's keys
    keyed.write_text('[grid]\nsearch = "random"\ntrials = 5\n' + LOG_RANGE)
    # the same seed: the same cells
    assert planned(tmp_path / "b", *SMALL, "--optimizers", "adam", "--grid", str(keyed), env=env) == first
    other = planned(tmp_path / "c", *args, "--set", "searcher.seed=7", env=env)
    assert len(other) == 5 and set(other) != set(first)
    assert planned(tmp_path / "d", *args[:-1], "8", env=env)[:5] == first  # more trials: the same first
    rates = [lr_of(slug) for slug in first + other]
    assert all(1e-4 <= lr <= 1e-1 for lr in rates), rates
    # log-uniform: about as many draws below 1e-2.5 as above, not 97% above
    below = sum(math.log10(lr) < -2.5 for lr in rates)
    assert 2 <= below <= 8, rates


def test_trials_are_required_by_a_search_and_refused_by_the_grid(tmp_path, env, assert_one_line_error, bench):
    assert_one_line_error(bench(tmp_path / "a", *SMALL, "--search", "random", env=env),
                          "--search random needs --trials N")
    assert_one_line_error(bench(tmp_path / "b", *SMALL, "--trials", "3", env=env),
                          "--trials: --search grid runs every cell")
    assert_one_line_error(bench(tmp_path / "c", *SMALL, "--search", "annealing", "--trials", "3", env=env),
                          "--search annealing: unknown searcher (known: grid, optuna, random)")
    assert_one_line_error(bench(tmp_path / "e", *SMALL, "--search", "random", "--trials", "3", env=env),
                          "--search random: the space holds one cell")
    assert not any((tmp_path / name / "results.db").exists() for name in "abce")


def test_optuna_continues_its_study_and_never_repeats_a_cell(tmp_path, env, bench, db_rows, unrecord,
                                                             assert_store_and_study_agree):
    out = tmp_path / "b"
    args = (*SMALL, *SPACE, "--search", "optuna", "--set", "searcher.sampler=RandomSampler")
    proc = bench(out, *args, "--trials", "2", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = db_rows(out)
    assert len(first) == 2
    assert_store_and_study_agree(out)
    unrecord(out, "rowid = 2")
    # A rerun with more trials: the first cell stays as it was, the second is redone as
    # the same trial, 2 more points run, and the fifth trial finds the space (4 points) spent
    proc = bench(out, *args, "--trials", "5", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == 4 and len({r["cell"] for r in rows}) == 4
    assert "note: the space holds 4 distinct cells: --trials 5 ran them all" in proc.stderr
    assert rows[0] == first[0] and rows[1]["cell"] == first[1]["cell"] and rows[1]["status"] == "ok"
    assert_store_and_study_agree(out)
    assert "optimizer.learning_rate" in proc.stdout  # the varied parameter is a column


def test_optuna_and_asha_share_one_study_on_two_jobs(tmp_path, env, bench, db_rows,
                                                     assert_store_and_study_agree):
    out = tmp_path / "b"
    proc = bench(out, *SMALL, *SPACE, "--epochs", "3", "--search", "optuna", "--trials", "3",
                 "--prune", "asha", "--jobs", "2", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "locked" not in proc.stderr and "Warning" not in proc.stderr
    rows = db_rows(out)
    assert len(rows) == 3 and {r["status"] for r in rows} <= {"ok", "pruned"}
    assert_store_and_study_agree(out)
    # the pruner decided on the searcher's trials: it made none of its own
    assert all(t.params for t in open_study(out).get_trials(deepcopy=False))
    assert any(t.intermediate_values for t in search_trials(out).values())


def test_a_sigkilled_search_redoes_only_the_running_cell(tmp_path, env, tiny_mlp, sigkill_midway, db_rows,
                                                         bench, assert_store_and_study_agree):
    out = tmp_path / "b"
    args = ("--models", "slow", *tiny_mlp, *SPACE, "--search", "optuna", "--trials", "3")
    sigkill_midway(out, args, env)
    before = db_rows(out)
    done = {r["slug"]: r for r in before if r["status"] == "ok"}
    running = [r["slug"] for r in before if r["status"] == "running"]
    assert len(running) == 1
    # the study holds the running cell's trial, open
    assert search_trials(out)[f"{before[-1]['cell']}:{before[-1]['seed']}"].state.name == "RUNNING"
    proc = bench(out, *args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
    assert running[0] in {r["slug"] for r in rows}  # the killed cell was redone, not replaced
    for slug, row in done.items():  # never started again
        assert next(r for r in rows if r["slug"] == slug) == row
    assert_store_and_study_agree(out)


def test_without_optuna_random_runs_distinct_trials_a_rerun_goes_on_and_optuna_is_a_one_line_error(
        tmp_path, env, without_optuna, bench, assert_one_line_error, db_rows):
    env = without_optuna(tmp_path, env)
    proc = bench(tmp_path / "o", *SMALL, *SPACE, "--search", "optuna", "--trials", "2", env=env)
    assert_one_line_error(proc, "--search optuna needs Optuna", "pip install 'zoo[search]'")
    assert not (tmp_path / "o" / "results.db").exists()
    out = tmp_path / "r"
    # 4 points in the space: 6 trials run each of them once
    proc = bench(out, *SMALL, *SPACE, "--search", "random", "--trials", "6", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == 4 and len({r["cell"] for r in rows}) == 4
    assert {r["status"] for r in rows} == {"ok"}
    assert "note: the space holds 4 distinct cells: --trials 6 ran them all" in proc.stderr
    assert not (out / "study.journal").exists()
    again = bench(out, *SMALL, *SPACE, "--search", "random", "--trials", "6", env=env)
    assert again.returncode == 0 and "4 already finished, 0 to run" in again.stderr
    assert db_rows(out) == rows  # nothing ran again


def test_random_draws_each_kind_of_axis_within_its_bounds(tmp_path):
    from zoo.plugins.searchers import build_random
    from zoo.searcher import Choice, Range

    space = {"models": Choice(("mlp", "cnn")), "batch_size": Range(16, 256, log=True, integer=True),
             "epochs": Range(1, 9, integer=True, step=2), "optimizer.momentum": Range(0.5, 0.99)}
    searcher = build_random(seed=11)
    searcher.open(tmp_path, space, seed=0)
    points = [searcher.ask().point for _ in range(200)]
    assert {p["models"] for p in points} == {"mlp", "cnn"}
    assert all(isinstance(p["batch_size"], int) and 16 <= p["batch_size"] <= 256 for p in points)
    assert sum(p["batch_size"] < 64 for p in points) > 60  # log-uniform: half below the middle 64
    assert {p["epochs"] for p in points} == {1, 3, 5, 7, 9}
    assert all(0.5 <= p["optimizer.momentum"] <= 0.99 for p in points)
    again = build_random(seed=11)
    again.open(tmp_path, space, seed=5)  # its own seed wins over the sweep's
    assert [again.ask().point for _ in range(200)] == points
