"""Synchronous successive halving in real sweeps (``--prune sha``): every cell is held at
the rung until all have reached it, so the best goes on whichever order the grid lists
the cells in and however many run at once; a budget that runs out leaves them held and
a rerun settles them without training again; a runner killed with SIGKILL mid-sweep; no
Optuna needed.

The cells train the throwaway ``slow`` MLP (it logs every training step) with ``stuck``
(SGD at lr 1e-9, at chance), ``sgd`` and ``adam``, 3 epochs of 9 steps: the only rung is
epoch 1, where 3 // 3 = 1 cell goes on.  asha, asked the same, lets the first cell there
go on whatever its accuracy (it has no one to compare with).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration  # starts processes and trains with Paddle

SHA = ("--prune", "sha")


@pytest.fixture(scope="session")
def three(tiny_mlp):
    def three(order: str) -> tuple[str, ...]:
        return ("--models", "slow", "--optimizers", order, "--epochs", "3", *tiny_mlp)
    return three


def assert_only_adam_went_on(rows, one, pruner="sha"):
    assert one(rows, optimizer="adam")["status"] == "ok" and int(one(rows, optimizer="adam")["epochs_done"]) == 3
    for name in ("stuck", "sgd"):
        row = one(rows, optimizer=name)
        assert row["status"] == "pruned" and row["reason"] == f"stopped at epoch 1 of 3 by {pruner}", row


def test_the_best_goes_on_though_it_comes_last_and_without_optuna(tmp_path, pruning_env, without_optuna, bench,
                                                                  three, db_rows, one, metrics, cell_dir,
                                                                  steps_run, pruning_steps,
                                                                  assert_store_and_halving_agree, halving_state):
    env = without_optuna(tmp_path, pruning_env)
    out = tmp_path / "b"
    proc = bench(out, *three("stuck,sgd,adam"), *SHA, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert_only_adam_went_on(rows, one)
    assert steps_run(env) == (3 + 1 + 1) * pruning_steps  # each epoch trained once
    assert metrics(cell_dir(out, "slow-adam"))["resumed_from"] == pruning_steps
    assert_store_and_halving_agree(out)
    assert not (out / "study.journal").exists()
    # A pruned cell is a result; --retry pruned takes both to their full epochs from their
    # epoch-1 checkpoints, never held again, and the record keeps the decision.
    proc = bench(out, *three("stuck,sgd,adam"), *SHA, "--retry", "pruned", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_run(env) == 2 * 2 * pruning_steps
    assert {r["status"] for r in db_rows(out)} == {"ok"}
    assert [t["end"] for t in halving_state(out).values()].count("pruned") == 2


def test_asha_on_the_same_order_lets_the_first_cell_go_on(tmp_path, pruning_env, bench, three, db_rows, one):
    # What sha is for: the cell at chance comes first, alone at the rung, and asha keeps it.
    out = tmp_path / "b"
    assert bench(out, *three("stuck,sgd,adam"), "--prune", "asha", env=pruning_env).returncode == 0
    assert one(db_rows(out), optimizer="stuck")["status"] == "ok"


def test_two_jobs_and_the_reverse_order_decide_the_same(tmp_path, pruning_env, bench, three, db_rows, one,
                                                        steps_run, pruning_steps, assert_store_and_halving_agree):
    out = tmp_path / "b"
    proc = bench(out, *three("adam,sgd,stuck"), *SHA, "--jobs", "2", env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "locked" not in proc.stderr
    assert_only_adam_went_on(db_rows(out), one)
    assert steps_run(pruning_env) == (3 + 1 + 1) * pruning_steps
    assert_store_and_halving_agree(out)


def test_a_spent_budget_leaves_the_cells_held_and_a_rerun_settles_them(tmp_path, pruning_env, bench, three,
                                                                       db_rows, one, steps_run, pruning_steps,
                                                                       assert_store_and_halving_agree):
    out = tmp_path / "b"
    proc = bench(out, *three("stuck,sgd,adam"), *SHA, "--budget-epochs", "3", env=pruning_env)
    assert proc.returncode == 5, proc.stderr[-3000:]  # the budget ran out
    rows = db_rows(out)
    assert {r["status"] for r in rows} == {"interrupted"} and {int(r["epochs_done"]) for r in rows} == {1}
    assert all("budget spent after epoch 1 of 3" in r["reason"] for r in rows)
    steps_run(pruning_env)
    proc = bench(out, *three("stuck,sgd,adam"), *SHA, env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # settled first, from what the held cells recorded: only adam trains, from epoch 1
    assert steps_run(pruning_env) == 2 * pruning_steps
    assert_only_adam_went_on(db_rows(out), one)
    assert_store_and_halving_agree(out)


def test_a_settle_cut_short_after_a_spent_budget_is_recorded_not_trained(tmp_path, pruning_env, bench, three,
                                                                          db_rows, one, steps_run, pruning_steps,
                                                                          assert_store_and_halving_agree):
    """The rerun that settles the cells a budget left held is killed after the pruner
    decided and before the rows were written: they stay `interrupted`, their trials pruned."""
    from zoo.bench.pruning import val_accs
    from zoo.bench.sha_pruner import SyncHalving

    out = tmp_path / "b"
    assert bench(out, *three("stuck,sgd,adam"), *SHA, "--budget-epochs", "3", env=pruning_env).returncode == 5
    rows = db_rows(out)
    pruner = SyncHalving()
    pruner.open(out)  # what the killed rerun's settle told the pruner, and no more
    held = {f"{r['cell']}:{r['seed']}": val_accs(json.loads((out / "cells" / r["slug"] / "metrics.json").read_text()))
            for r in rows}
    for trial, stop in pruner.settle(held).items():
        if stop:
            pruner.tell(trial, "pruned", held[trial])
    steps_run(pruning_env)
    proc = bench(out, *three("stuck,sgd,adam"), *SHA, env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_run(pruning_env) == 2 * pruning_steps  # adam's two epochs, nothing for the pruned
    assert_only_adam_went_on(db_rows(out), one)
    assert_store_and_halving_agree(out)


def test_a_sigkilled_sweep_resumes_with_the_same_decisions(tmp_path, pruning_env, bench, three, sigkill_midway,
                                                           halving_state, db_rows, one, steps_run, pruning_steps,
                                                           assert_store_and_halving_agree):
    out = tmp_path / "b"

    def one_held_and_the_next_training():
        try:
            held = len(halving_state(out))
        except (OSError, ValueError):
            return False
        return held >= 1 and len(list(out.glob("cells/*/progress.json"))) > held

    sigkill_midway(out, (*three("stuck,sgd,adam"), *SHA), pruning_env, one_held_and_the_next_training,
                   "a held cell and one training")
    proc = bench(out, *three("stuck,sgd,adam"), *SHA, env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert_only_adam_went_on(rows, one)
    assert_store_and_halving_agree(out)
    # every epoch trained once, but the one the kill cut short (at most)
    done = sum(int(r["epochs_done"]) for r in rows) * pruning_steps
    assert done <= steps_run(pruning_env) <= done + pruning_steps


def test_on_real_fashion_mnist_the_learning_cell_goes_on_and_the_report_shows_where_the_rest_stopped(
        tmp_path, pruning_env, bench, db_rows, one, zoo, assert_store_and_halving_agree, real_fashion_dir):
    # Four MLPs on 1,000 real training images: Adam at 0.01 (the default) learns best, SGD at
    # 0.01 less; both at 1e-7 stay near chance. The best one comes last in the grid.
    out = tmp_path / "b"
    proc = bench(out, "--datasets", "fashion-mnist", "--data-dir", str(real_fashion_dir), "--limit-train", "1000",
                 "--models", "mlp", "--optimizers", "sgd,adam", "--set", "optimizer.learning_rate=1e-7,0.01",
                 "--set", "model.hidden1=32", "--set", "model.hidden2=16", "--epochs", "3", *SHA, env=pruning_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == 4
    # (a parameter at its default, 0.01 here, is not written into the cell's params)
    learner = [r for r in rows if r["optimizer"] == "adam"
               and json.loads(r["params"]).get("optimizers", {}).get("learning_rate") != 1e-7]
    assert [r["status"] for r in learner] == ["ok"] and learner[0]["test_acc"] > 0.5
    assert sorted(r["status"] for r in rows) == ["ok", "pruned", "pruned", "pruned"]
    assert_store_and_halving_agree(out)
    best = zoo("results", str(out), "--best", "--format", "json", env=pruning_env)
    assert json.loads(best.stdout)[0]["cell"] == learner[0]["cell"]
    assert zoo("report", str(out), env=pruning_env).returncode == 0
    page = (out / "report.html").read_text()
    assert page.count("(pruned at epoch 1/3)") >= 3 and "stopped at epoch 1 of 3 by sha" in page
