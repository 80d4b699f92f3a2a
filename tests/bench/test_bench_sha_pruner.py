"""zoo's synchronous successive halving on its own: which trials a rung keeps, that the
order of arrival does not matter, and that its decisions survive a new session (a killed
runner asks again and gets the same answer).  The sweeps are in test_bench_sha.py."""

from __future__ import annotations

import json
import random

import pytest

from zoo.bench.sha_pruner import STATE_FILE, SyncHalving
from zoo.errors import ConfigError

# epoch-1 accuracies of nine trials; rung 1 of reduction factor 3 keeps the best three
EPOCH1 = {f"t{i}": acc for i, acc in enumerate([0.31, 0.72, 0.10, 0.55, 0.90, 0.12, 0.64, 0.40, 0.11])}


def _arrive(pruner: SyncHalving, trials: dict[str, list[float]]) -> None:
    for trial, values in trials.items():
        assert pruner.should_prune(trial, values) is None  # held, never decided alone


def test_a_rung_keeps_the_top_third_and_stops_the_rest(tmp_path):
    pruner = SyncHalving()
    pruner.open(tmp_path)
    assert pruner.decision_epochs(8) == (1, 3) and pruner.decision_epochs(3) == (1,)
    held = {t: [acc] for t, acc in EPOCH1.items()}
    _arrive(pruner, held)
    answers = pruner.settle(held)
    assert {t for t, stop in answers.items() if not stop} == {"t4", "t1", "t6"}
    assert set(answers) == set(EPOCH1)
    # rung 3: three arrive, 3 // 3 = 1 goes on
    later = {"t4": [0.90, 0.91, 0.92], "t1": [0.72, 0.80, 0.95], "t6": [0.64, 0.70, 0.71]}
    _arrive(pruner, later)
    assert pruner.settle(later) == {"t4": True, "t1": False, "t6": True}


def test_the_order_of_arrival_does_not_change_a_decision(tmp_path):
    decisions = []
    for order in range(5):
        names = list(EPOCH1)
        random.Random(order).shuffle(names)
        pruner = SyncHalving()
        pruner.open(tmp_path / str(order))
        held = {t: [EPOCH1[t]] for t in names}
        _arrive(pruner, held)
        decisions.append(pruner.settle(held))
    assert all(d == decisions[0] for d in decisions)


def test_at_least_one_goes_on_and_ties_are_broken_the_same_way(tmp_path):
    pruner = SyncHalving(reduction_factor=4)
    pruner.open(tmp_path)
    held = {"b": [0.5], "a": [0.5]}
    _arrive(pruner, held)
    assert pruner.settle(held) == {"a": False, "b": True}


def test_a_new_session_holds_the_waiting_and_repeats_the_decisions(tmp_path):
    first = SyncHalving()
    first.open(tmp_path)
    held = {t: [acc] for t, acc in EPOCH1.items()}
    _arrive(first, held)
    answers = first.settle(held)
    _arrive(first, {"t4": [0.90, 0.91, 0.92]})  # went on, then reached rung 3: waits there
    first.tell("t2", "pruned", [0.10])
    # a runner killed here: the next session reads the folder
    again = SyncHalving()
    again.open(tmp_path)
    assert again.held("t4") and not again.held("t1") and not again.held("t2")
    assert again.decided("t2") == "pruned" and again.decided("t1") is None
    # settle wrote its "stop" answers itself, not only when told: t0 was never told
    assert again.decided("t0") == "pruned" and not again.held("t0")
    for trial, stop in answers.items():  # asked again about epoch 1, the same answer
        if not stop:
            assert again.should_prune(trial, [EPOCH1[trial]]) is False
    saved = json.loads((tmp_path / STATE_FILE).read_text())["trials"]
    assert saved["t4"] == {"values": {"1": 0.90, "3": 0.92}, "went_on": [1], "end": None}


def test_a_late_arrival_is_ranked_against_everyone_at_the_rung(tmp_path):
    pruner = SyncHalving()
    pruner.open(tmp_path)
    held = {t: [acc] for t, acc in EPOCH1.items()}
    _arrive(pruner, held)
    pruner.settle(held)
    # ten at rung 1 now: 10 // 3 = 3 go on, and 0.60 is not among the best three
    _arrive(pruner, {"late": [0.60]})
    assert pruner.settle({"late": [0.60]}) == {"late": True}
    _arrive(pruner, {"later": [0.95]})
    assert pruner.settle({"later": [0.95]}) == {"later": False}


def test_a_cell_without_validation_is_never_held(tmp_path):
    pruner = SyncHalving()
    pruner.open(tmp_path)
    assert pruner.should_prune("t", [None]) is False and not pruner.held("t")


@pytest.mark.parametrize("params", [{"reduction_factor": 1}, {"min_resource": 0}, {"reduction_factor": 2.5}])
def test_a_bad_parameter_is_refused(params):
    with pytest.raises(ConfigError, match="must be a whole number"):
        SyncHalving(**params)


def test_an_unreadable_state_is_a_one_line_error(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="--force"):
        SyncHalving().open(tmp_path)


@pytest.mark.parametrize("searched", [False, True], ids=["grid", "search"])
def test_force_forgets_every_decision_also_under_a_search(tmp_path, searched):
    from zoo.bench.optuna_pruner import STUDY_FILE
    from zoo.bench.pruning import Pruning
    from zoo.bench.store import Store

    (tmp_path / STATE_FILE).write_text(json.dumps({"trials": {"t": {"values": {"1": 0.5}, "went_on": [],
                                                                     "end": "pruned"}}}))
    (tmp_path / STUDY_FILE).write_text("the search's own, started afresh by it\n")
    pruning, store = Pruning(SyncHalving(), "sha"), Store(tmp_path / "results.db")
    try:
        pruning.open(tmp_path, store, [], force=True, study_kept=searched)
    finally:
        store.close()
    assert not (tmp_path / STATE_FILE).exists() and pruning.pruner.decided("t") is None
    assert (tmp_path / STUDY_FILE).exists() == searched
