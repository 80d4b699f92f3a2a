"""Crash-safe sweeps: a killed or interrupted zoo bench resumes, never duplicates a row,
and leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

# `slow` sleeps 0.25 s per training step: 2 epochs are 18 steps in one process, 8 in two.


@pytest.fixture(scope="session")
def slow_grid(tiny_mlp):
    return ("--models", "slow", "--epochs", "2", *tiny_mlp)


@pytest.fixture(scope="session")
def start_sweep(bench_cmd, repo_root, slow_grid):
    def _start(out, env, *args):
        return subprocess.Popen(bench_cmd(out, *slow_grid, *args), env=env, cwd=repo_root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    return _start


def _checkpoint_of(out, prefix):
    def find():
        dirs = list((out / "cells").glob(f"*{prefix}-*/checkpoints/step-*"))
        return dirs if dirs else None
    return find


def test_a_sigkilled_sweep_leaves_no_workers_and_resumes_without_duplicates(tmp_path, monkeypatch, faulty_kit,
                                                                            marked, wait_for, kill_tree,
                                                                            processes_with, mark_variable,
                                                                            cell_dir, assert_no_processes,
                                                                            db_rows, bench, one, metrics,
                                                                            start_sweep, slow_grid):
    kit = faulty_kit(tmp_path, monkeypatch)
    out, env = tmp_path / "b", marked(kit.env())
    # the launch cell first: 1 s a step, so its workers would outlive the runner by seconds
    args = ("--launch", "launch,single", "--nprocs", "2", "--checkpoint-every", "1")
    runner = start_sweep(out, {**env, "ZOO_TEST_DELAY": "1"}, *args)
    try:
        # kill the runner alone (not its group) while the launch cell is mid-training
        wait_for(_checkpoint_of(out, "slow-sgd-constant-none-launch2"), 120, "a launch checkpoint", runner)
        assert len(processes_with(f"{mark_variable}={env[mark_variable]}")) >= 4  # runner, launch, 2 workers
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        kill_tree(runner)
    # PDEATHSIG: the launch process and both workers die with the runner, at once
    launch_dir = cell_dir(out, "slow-sgd-constant-none-launch2")
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", str(launch_dir / "job.json"), within=4)
    (killed,) = db_rows(out)
    assert killed["launch"] == "launch" and killed["status"] == "running"

    steps = tmp_path / "rerun.steps"
    proc = bench(out, *slow_grid, *args, env={**env, "ZOO_TEST_STEP_LOG": str(steps)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 cells, 0 already finished, 2 to run" in proc.stderr
    rows = db_rows(out)
    assert len(rows) == len({(r["cell"], r["seed"]) for r in rows}) == 2
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert one(rows, launch="launch")["cell"] == killed["cell"]
    run = metrics(launch_dir)
    assert run["status"] == "ok" and run["resumed_from"] is not None and 1 <= run["resumed_from"] < 8
    assert run["global_step"] == 8 and [e["step"] for e in run["epochs"]] == [4, 8]
    assert metrics(cell_dir(out, "slow-sgd-constant-none-single1"))["resumed_from"] is None
    # the rerun trained the single cell's 18 steps, and only what the launch cell had left,
    # on each of its two ranks
    left = 8 - run["resumed_from"]
    assert sorted(steps.read_text().splitlines()) == ["rank 0"] * (18 + left) + ["rank 1"] * left


@pytest.fixture(scope="session")
def interrupt_sweep(wait_for, kill_tree, start_sweep):
    def _interrupt(out, env, *launch):
        """Start a one-cell sweep, SIGINT the runner mid-epoch; its exit code, stdout, stderr."""
        runner = start_sweep(out, env, *launch)
        try:
            def mid_epoch():
                progress = list((out / "cells").glob("*slow-*/progress.json"))
                return progress and '"step": 0' not in progress[0].read_text() and progress[0]
            wait_for(mid_epoch, 120, "training to start", runner)
            runner.send_signal(signal.SIGINT)
            stdout, stderr = runner.communicate(timeout=120)
        finally:
            kill_tree(runner)
        return runner.returncode, stdout, stderr

    return _interrupt


@pytest.mark.parametrize("launch, steps", [(("--launch", "single"), 18),
                                           (("--launch", "spawn", "--nprocs", "2"), 8)],
                         ids=["single", "spawn2"])
def test_sigint_interrupts_the_cell_cleanly_and_a_rerun_finishes_it(tmp_path, monkeypatch, launch, steps,
                                                                    faulty_kit, marked, db_rows, cell_dir,
                                                                    metrics, assert_no_processes,
                                                                    mark_variable, bench, interrupt_sweep,
                                                                    slow_grid):
    kit = faulty_kit(tmp_path, monkeypatch)
    out, env = tmp_path / "b", marked(kit.env())
    code, stdout, stderr = interrupt_sweep(out, env, *launch)
    assert code == 130, stderr[-3000:]
    assert "interrupted" in stderr
    (row,) = db_rows(out)
    assert row["status"] == "interrupted" and row["test_acc"] is None
    assert "interrupted" in stdout  # the table shows the status, not a number
    cell = cell_dir(out, "slow-sgd")
    # the workers stopped together after a step, with a checkpoint (not killed by
    # paddle's own signal handler, not SIGKILLed after the grace period)
    assert (cell / "metrics.json").is_file(), "no metrics.json: the worker did not stop cleanly"
    stopped = metrics(cell)
    assert stopped["status"] == "interrupted", stopped["reason"]
    assert "stopped by" in stopped["reason"]
    step = stopped["global_step"]
    assert 0 < step < steps and (cell / "checkpoints" / f"step-{step:09d}").is_dir()
    assert row["wall_time"] < 25
    assert_no_processes(f"{mark_variable}={env[mark_variable]}")

    ran = tmp_path / "rerun.steps"
    proc = bench(out, *slow_grid, *launch, env={**env, "ZOO_TEST_STEP_LOG": str(ran)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = db_rows(out)
    assert row["status"] == "ok"
    run = metrics(cell)
    assert run["resumed_from"] == step and run["global_step"] == steps
    # every rank ran the steps that were left, not the whole run again
    ranks = len(set(ran.read_text().splitlines()))
    assert ranks == (2 if "spawn" in launch else 1)
    assert sorted(ran.read_text().splitlines()) == sorted(
        f"rank {r}" for r in range(ranks) for _ in range(steps - step))


def test_a_resumed_cell_whose_worker_dies_is_failed_not_interrupted(tmp_path, monkeypatch, faulty_kit, marked,
                                                                    metrics, cell_dir, bench, db_rows,
                                                                    interrupt_sweep, slow_grid):
    """The metrics.json of the interrupted session must not speak for the next one."""
    kit = faulty_kit(tmp_path, monkeypatch)
    out, env = tmp_path / "b", marked(kit.env())
    code, _, stderr = interrupt_sweep(out, env, "--launch", "single")
    assert code == 130, stderr[-3000:]
    assert metrics(cell_dir(out, "slow-sgd"))["status"] == "interrupted"
    die = tmp_path / "die-once"
    die.touch()
    proc = bench(out, *slow_grid, "--launch", "single", env={**env, "ZOO_TEST_DIE_ONCE": str(die)})
    assert not die.exists()  # the resumed worker did die
    assert proc.returncode == 1, proc.stderr[-3000:]
    (row,) = db_rows(out)
    assert row["status"] == "failed" and row["reason"].startswith("worker exited with code 9"), row
