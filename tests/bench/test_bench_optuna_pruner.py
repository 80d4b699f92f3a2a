"""Optuna's pruners behind zoo.Pruner, across sessions of one sweep folder: a trial per
cell and seed, taken up again after a crash, never asked twice (real Optuna, real journal)."""

from __future__ import annotations

import pytest

from zoo.plugins.pruners import build_asha, build_median
from zoo.bench.optuna_pruner import TRIAL_ATTR, open_study

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def names(folder) -> list[str]:
    return [t.user_attrs.get(TRIAL_ATTR) for t in open_study(folder).get_trials(deepcopy=False)]


def test_a_running_trial_is_adopted_by_the_next_session(tmp_path):
    first = build_asha()
    first.open(tmp_path)
    assert first.should_prune("good:0", [0.8]) is False  # the first at its rung goes on
    # the runner dies here; a new session takes the same trial and goes on reporting
    second = build_asha()
    second.open(tmp_path)
    assert second.decided("good:0") is None
    second.tell("good:0", "complete", [0.8, 0.85, 0.9])
    assert names(tmp_path) == ["good:0"]
    (trial,) = open_study(tmp_path).get_trials()
    assert trial.state.name == "COMPLETE" and trial.value == 0.9
    assert trial.intermediate_values == {1: 0.8, 2: 0.85, 3: 0.9}


def test_a_trial_enqueued_by_a_killed_runner_is_taken_up_not_duplicated(tmp_path):
    # what a runner killed between enqueue_trial and ask leaves in the journal
    open_study(tmp_path).enqueue_trial({}, user_attrs={TRIAL_ATTR: "late:0"})
    pruner = build_asha()
    pruner.open(tmp_path)
    pruner.should_prune("late:0", [0.5])
    assert names(tmp_path) == ["late:0"]
    assert open_study(tmp_path).get_trials()[0].state.name == "RUNNING"


def test_decisions_are_final_and_remembered(tmp_path):
    pruner = build_median(n_startup_trials=1)
    pruner.open(tmp_path)
    pruner.tell("good:0", "complete", [0.8, 0.9])
    assert pruner.should_prune("bad:0", [0.1]) is True
    pruner.tell("bad:0", "pruned", [0.1])
    pruner.tell("bad:0", "complete", [0.1, 0.2])  # --retry pruned finishing it: the decision stands
    again = build_median(n_startup_trials=1)
    again.open(tmp_path)
    assert again.decided("good:0") == "complete" and again.decided("bad:0") == "pruned"
    assert sorted(names(tmp_path)) == ["bad:0", "good:0"]


def test_no_validation_is_never_pruned_and_asks_nothing(tmp_path):
    pruner = build_median(n_startup_trials=0)
    pruner.open(tmp_path)
    assert pruner.should_prune("blind:0", [None]) is False
    assert names(tmp_path) == []


@pytest.mark.parametrize("epochs, expected", [(4, (1, 3)), (1, ())])
def test_asha_asks_at_its_rungs_only(epochs, expected):
    assert build_asha().decision_epochs(epochs) == expected


def test_a_writer_killed_holding_the_journal_lock_blocks_nobody(tmp_path):
    """kill -9 mid-append: Optuna's own symlink lock would stay behind and make the rerun
    wait out its grace period; the kernel releases an flock with its holder."""
    import fcntl
    import os
    import subprocess
    import sys

    lock_file = tmp_path / "study.journal.lock"
    code = ("import sys, time; from zoo.bench.optuna_pruner import open_study, KernelLock; "
            "open_study(sys.argv[1]); KernelLock(sys.argv[1] + '/study.journal.lock').acquire(); "
            "print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    fd = None
    try:
        assert holder.stdout.readline().strip() == "held"
        fd = os.open(lock_file, os.O_RDWR)
        with pytest.raises(BlockingIOError):  # held: the lock is real
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.kill()
        holder.wait(timeout=30)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free the moment its holder died
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        holder.kill()
        if fd is not None:
            os.close(fd)
    pruner = build_asha()
    pruner.open(tmp_path)
    pruner.should_prune("next:0", [0.5])
    assert names(tmp_path) == ["next:0"]


def test_the_study_is_written_under_the_kernel_lock(tmp_path):
    build_asha().open(tmp_path)  # creating the study appends to the journal
    lock_file = tmp_path / "study.journal.lock"
    assert lock_file.is_file() and not lock_file.is_symlink()  # Optuna's own lock is a symlink, removed after use
