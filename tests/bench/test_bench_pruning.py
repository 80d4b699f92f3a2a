"""Early stopping in real sweeps: a pruner stops a cell that stays at chance and keeps the
good one, a pruned cell resumes to its full epochs with --retry pruned, --jobs 2, a
runner killed with SIGKILL, and zoo without Optuna.

The cells train the throwaway ``slow`` MLP (it logs every training step, so a test counts
the steps a sweep really ran) with Adam, which learns, and ``stuck``, SGD at lr 1e-9, which
stays at chance.  3 epochs of 9 steps each: asha decides after epoch 1 only (its rungs are
1, 3, 9...), median after epochs 1 and 2.
"""

from __future__ import annotations


import pytest

from zoo import checkpoint as ckpt

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

MEDIAN = ("--prune", "median", "--set", "pruner.n_startup_trials=1")


@pytest.mark.parametrize("pruner", [["asha"], ["median", "--set", "pruner.n_startup_trials=1"]],
                         ids=["asha", "median"])
def test_a_pruner_stops_the_cell_at_chance_and_keeps_the_good_one(tmp_path, pruning_env, pruner, bench,
                                                                  db_rows, one, metrics, cell_dir, zoo,
                                                                  pruning_grid, steps_run, pruning_steps,
                                                                  assert_store_and_study_agree):
    out = tmp_path / "b"
    proc = bench(out, *pruning_grid, "--prune", *pruner, env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    good, bad = one(rows, optimizer="adam"), one(rows, optimizer="stuck")
    assert good["status"] == "ok" and int(good["epochs_done"]) == 3 and good["test_acc"] is not None
    assert bad["status"] == "pruned" and int(bad["epochs_done"]) == 1 and bad["test_acc"] is None
    assert bad["reason"] == f"stopped at epoch 1 of 3 by {pruner[0]}"
    assert bad["val_acc"] < 0.25 < good["val_acc"]
    # The good cell paused for the pruner and resumed from its checkpoint each time: its 27
    # steps ran once, plus the 9 of the pruned cell.
    assert steps_run(pruning_env) == 3 * pruning_steps + pruning_steps
    assert metrics(cell_dir(out, "slow-adam"))["resumed_from"] == (pruning_steps if pruner[0] == "asha" else 2 * pruning_steps)
    kept = ckpt.list_checkpoints(cell_dir(out, "slow-stuck") / "")
    assert kept[-1].name == ckpt.checkpoint_name(pruning_steps)
    assert_store_and_study_agree(out)
    shown = zoo("results", str(out), env=pruning_env)
    assert shown.returncode == 0 and "stopped at epoch 1 of 3 by" in shown.stdout
    # A pruned cell is a result: the table shows the accuracy it stopped at, not "pruned".
    assert f"{bad['val_acc']:.4f} (pruned at epoch 1/3)" in shown.stdout


def test_hyperband_decides_every_cell_once(tmp_path, pruning_env, bench, db_rows, pruning_grid, study_trials,
                                           assert_store_and_study_agree):
    # Which cells Hyperband stops depends on the bracket Optuna hashes each trial into, so
    # this checks the wiring: one trial per cell, final rows that the study agrees with.
    out = tmp_path / "b"
    proc = bench(out, *pruning_grid, "--prune", "hyperband", env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Warning" not in proc.stderr
    assert len(db_rows(out)) == 2 and len(study_trials(out)) == 2
    assert_store_and_study_agree(out)


def test_retry_pruned_resumes_the_cell_to_its_full_epochs(tmp_path, pruning_env, bench, one, db_rows, metrics,
                                                          cell_dir, pruning_grid, steps_run, pruning_steps,
                                                          study_trials):
    # median decides after epochs 1 and 2: the resumed cell passes epoch 2 unasked.
    out = tmp_path / "b"
    assert bench(out, *pruning_grid, *MEDIAN, env=pruning_env).returncode == 0
    steps_run(pruning_env)
    again = bench(out, *pruning_grid, *MEDIAN, env=pruning_env)  # a result: not retried
    assert again.returncode == 0 and steps_run(pruning_env) == 0
    proc = bench(out, *pruning_grid, *MEDIAN, "--retry", "pruned", env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_run(pruning_env) == 2 * pruning_steps  # from its epoch-1 checkpoint, not from step 0
    row = one(db_rows(out), optimizer="stuck")
    assert row["status"] == "ok" and int(row["epochs_done"]) == 3 and row["test_acc"] is not None
    run = metrics(cell_dir(out, "slow-stuck"))
    assert run["resumed_from"] == pruning_steps and run["global_step"] == 3 * pruning_steps
    # The study keeps the pruner's decision (a finished trial never changes) and gained no
    # second trial for the cell.
    by_cell = study_trials(out)
    assert len(by_cell) == 2 and by_cell[f"{row['cell']}:{row['seed']}"].state.name == "PRUNED"


def test_two_jobs_prune_without_database_locks(tmp_path, pruning_env, bench, tiny_mlp, db_rows, one,
                                               steps_run, pruning_steps, assert_store_and_study_agree):
    out = tmp_path / "b"
    proc = bench(out, "--models", "slow", "--optimizers", "adam,stuck,sgd", "--epochs", "3", *tiny_mlp,
                 "--prune", "asha", "--jobs", "2", env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "locked" not in proc.stderr
    rows = db_rows(out)
    assert len(rows) == 3 and one(rows, optimizer="adam")["status"] == "ok"
    assert_store_and_study_agree(out)
    # every cell trained each of its epochs once at most, whatever was decided
    assert steps_run(pruning_env) == sum(int(r["epochs_done"]) for r in rows) * pruning_steps


def test_a_sigkilled_pruning_sweep_redoes_only_the_running_cell(tmp_path, pruning_env, tiny_mlp,
                                                                sigkill_midway, db_rows, bench, one,
                                                                assert_store_and_study_agree):
    out = tmp_path / "b"
    grid = ("--models", "slow", "--optimizers", "adam,stuck,sgd", "--epochs", "3", *tiny_mlp, "--prune", "asha")
    sigkill_midway(out, grid, pruning_env)
    before = db_rows(out)
    done = {r["slug"]: r for r in before if r["status"] in ("ok", "pruned")}
    finished_metrics = {slug: (out / "cells" / slug / "metrics.json").read_text() for slug in done}
    proc = bench(out, *grid, env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == 3
    assert_store_and_study_agree(out)
    for slug, row in done.items():  # never started again
        assert one(rows, slug=slug) == row
        assert (out / "cells" / slug / "metrics.json").read_text() == finished_metrics[slug]


def test_a_decision_the_store_missed_is_recorded_on_the_rerun(tmp_path, pruning_env, bench, unrecord, one,
                                                              db_rows, pruning_grid, steps_run,
                                                              assert_store_and_study_agree):
    """A runner killed after telling the study "pruned" and before recording the row."""
    out = tmp_path / "b"
    assert bench(out, *pruning_grid, "--prune", "asha", env=pruning_env).returncode == 0
    steps_run(pruning_env)
    unrecord(out, "optimizer = 'stuck'")
    proc = bench(out, *pruning_grid, "--prune", "asha", env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_run(pruning_env) == 0
    row = one(db_rows(out), optimizer="stuck")
    assert row["status"] == "pruned" and row["reason"] == "stopped at epoch 1 of 3 by asha"
    assert_store_and_study_agree(out)


def test_without_optuna_the_pruners_are_a_one_line_error_and_none_works(tmp_path, pruning_env, without_optuna,
                                                                        bench, assert_one_line_error,
                                                                        tiny_mlp, db_rows, pruning_grid):
    pruning_env = without_optuna(tmp_path, pruning_env)
    for name in ("median", "asha", "hyperband"):
        proc = bench(tmp_path / name, *pruning_grid, "--prune", name, env=pruning_env)
        assert_one_line_error(proc, f"--prune {name} needs Optuna", "pip install 'zoo[search]'")
        assert not (tmp_path / name / "results.db").exists()
    proc = bench(tmp_path / "none", "--models", "slow", "--optimizers", "adam", *tiny_mlp, "--prune", "none",
                 env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in db_rows(tmp_path / "none")] == ["ok"]
    assert not (tmp_path / "none" / "study.journal").exists()


def test_an_unknown_pruner_is_a_one_line_error(tmp_path, pruning_env, assert_one_line_error, bench,
                                               pruning_grid):
    assert_one_line_error(bench(tmp_path / "b", *pruning_grid, "--prune", "sometimes", env=pruning_env),
                          "--prune sometimes: unknown pruner (known: ")


def test_a_bad_pruner_parameter_is_a_one_line_error(tmp_path, pruning_env, bench, assert_one_line_error,
                                                    pruning_grid):
    proc = bench(tmp_path / "b", *pruning_grid, "--prune", "asha", "--set", "pruner.reduction_factor=1", env=pruning_env)
    assert_one_line_error(proc, "pruners 'asha'", "reduction_factor")
    assert not (tmp_path / "b" / "results.db").exists()
