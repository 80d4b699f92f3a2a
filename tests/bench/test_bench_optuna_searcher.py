"""Optuna's samplers behind zoo.Searcher, across sessions of one sweep folder: a trial a
killed runner asked is taken up with its point, a rerun's sampler does not start its
stream again, and a pruner decides on the searcher's own trials (real Optuna, real journal)."""

from __future__ import annotations

import pytest

from zoo.bench.optuna_pruner import TRIAL_ATTR, open_study
from zoo.plugins.pruners import build_asha
from zoo.plugins.searchers import build_optuna
from zoo.searcher import Choice, Range

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

SPACE = {"optimizers": Choice(("adam", "sgd")),
         "optimizer.learning_rate": Range(1e-4, 1e-1, log=True),
         "model.hidden": Choice(([16, 8], [32])),  # a list parameter: values Optuna cannot hold
         "epochs": Range(1, 9, integer=True)}


def test_a_trial_asked_before_a_kill_comes_back_with_its_point(tmp_path):
    first = build_optuna(sampler="RandomSampler")
    assert first.open(tmp_path, SPACE, seed=0) == []
    asked = first.ask()
    assert set(asked.point) == set(SPACE) and asked.point["model.hidden"] in ([16, 8], [32])
    assert 1e-4 <= asked.point["optimizer.learning_rate"] <= 1e-1 and isinstance(asked.point["epochs"], int)
    # the runner dies before naming the trial's cell; the next session gets it back, open
    second = build_optuna(sampler="RandomSampler")
    (again,) = second.open(tmp_path, SPACE, seed=0)
    assert (again.number, again.point, again.name, again.state) == (asked.number, asked.point, None, None)
    second.started(again, "abc:0")
    second.tell(again, "complete", 0.75)
    (trial,) = open_study(tmp_path).get_trials()
    assert trial.user_attrs[TRIAL_ATTR] == "abc:0" and trial.state.name == "COMPLETE" and trial.value == 0.75
    (done,) = build_optuna(sampler="RandomSampler").open(tmp_path, SPACE, seed=0)
    assert (done.name, done.state, done.value) == ("abc:0", "complete", 0.75)


def test_a_rerun_does_not_start_the_sampler_stream_again(tmp_path):
    first = build_optuna(sampler="RandomSampler")
    first.open(tmp_path, SPACE, seed=3)
    one = first.ask()
    first.tell(one, "failed", None)
    second = build_optuna(sampler="RandomSampler")
    second.open(tmp_path, SPACE, seed=3)
    assert second.ask().point != one.point
    # while a fresh folder with the same seed gives the same first point (seeded)
    fresh = build_optuna(sampler="RandomSampler")
    (tmp_path / "fresh").mkdir()
    fresh.open(tmp_path / "fresh", SPACE, seed=3)
    assert fresh.ask().point == one.point


def test_a_pruner_decides_on_the_searchers_trial_in_one_study(tmp_path):
    searcher, pruner = build_optuna(), build_asha()
    searcher.open(tmp_path, SPACE, seed=0)
    pruner.open(tmp_path)
    trial = searcher.ask()
    searcher.started(trial, "cell:0")
    assert pruner.should_prune("cell:0", [0.6]) is False  # adopted, not a trial of its own
    pruner.tell("cell:0", "complete", [0.6, 0.7])
    searcher.tell(trial, "complete", 0.7)  # told already by the pruner: the same end stands
    (found,) = open_study(tmp_path).get_trials()
    assert found.user_attrs[TRIAL_ATTR] == "cell:0" and found.params
    assert found.state.name == "COMPLETE" and found.value == 0.7 and found.intermediate_values == {1: 0.6, 2: 0.7}


def test_a_samplers_own_options_are_checked_when_it_is_built():
    from zoo.errors import ConfigError

    build_optuna(sampler="TPESampler", options={"n_startup_trials": 2})
    with pytest.raises(ConfigError, match=r"^searcher 'optuna': TPESampler\(bogus\): .*bogus"):
        build_optuna(options={"bogus": 1})
    with pytest.raises(ConfigError, match="unknown sampler 'GridSampler'"):
        build_optuna(sampler="GridSampler")
