"""Performance profiles (zoo.bench.profiles) on a hand-worked example, and through
`zoo results --profile` on a store written with exactly those times."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.test_bench_helpers import zoo
from zoo.bench.profiles import TAU_MAX, build, workload_fields
from zoo.errors import ZooError

# Three optimizers on two workloads (models), times to target 0.9 in seconds; None: the
# seeds never reached it.  sgd also ran with a second schedule, slower: an entry is as
# good as its best setting, so that one must not count.
TIMES = {("mlp", "sgd", "constant"): 10.0, ("mlp", "adam", "constant"): 20.0,
         ("mlp", "momentum", "constant"): 50.0, ("cnn", "sgd", "constant"): 45.0,
         ("cnn", "adam", "constant"): 15.0, ("cnn", "momentum", "constant"): None,
         ("mlp", "sgd", "cosine"): 30.0}
# By hand.  Fastest: mlp 10 (sgd), cnn 15 (adam).
#   ratios     mlp      cnn
#   sgd        1        45/15 = 3
#   adam       2        1
#   momentum   5        inf
# rho(tau) = share of the two workloads with ratio <= tau:
#   sgd:      1/2 on [1, 3), 1 from 3;   adam: 1/2 on [1, 2), 1 from 2;   momentum: 0 (5 > 4)
# score = integral of rho over [1, 4] / 3:
#   sgd  = (1/2 * 2 + 1 * 1) / 3 = 2/3;  adam = (1/2 * 1 + 1 * 2) / 3 = 5/6;  momentum = 0
RATIOS = {"sgd": [1.0, 3.0], "adam": [2.0, 1.0], "momentum": [5.0, math.inf]}  # mlp, cnn
RHO = {("sgd", 1): 0.5, ("sgd", 2.9): 0.5, ("sgd", 3): 1.0, ("adam", 1): 0.5, ("adam", 2): 1.0,
       ("momentum", 4): 0.0}
SCORES = {"adam": 5 / 6, "sgd": 2 / 3, "momentum": 0.0}


def _summary(model, optimizer, schedule, time):
    return {"dataset": "mnist", "model": model, "optimizer": optimizer, "schedule": schedule,
            "device": "cpu", "ok_runs": 3, "target_acc": 0.9, "time_to_target_median": time}


@pytest.fixture
def profile():
    summaries = [_summary(*key, time) for key, time in TIMES.items()]
    return build(summaries, "optimizer", workload_fields("optimizer", None))


def test_hand_worked_ratios_rho_and_scores(profile):
    assert [profile.workload_name(w) for w in profile.workloads] == ["mnist/cnn/cpu@0.9",
                                                                     "mnist/mlp/cpu@0.9"]
    cnn, mlp = profile.workloads
    for entry, (on_mlp, on_cnn) in RATIOS.items():
        assert profile.ratio(entry, mlp) == pytest.approx(on_mlp)
        assert profile.ratio(entry, cnn) == pytest.approx(on_cnn)
    for (entry, tau), expected in RHO.items():
        assert profile.rho(entry, tau) == pytest.approx(expected)
    assert {e: profile.score(e) for e in profile.entries} == pytest.approx(SCORES)
    assert profile.entries == ["adam", "sgd", "momentum"]  # best score first


def test_curve_steps_at_each_ratio(profile):
    assert profile.curve("sgd") == ([1.0, 3.0, TAU_MAX], [0.5, 1.0, 1.0])
    assert profile.curve("momentum") == ([1.0, TAU_MAX], [0.0, 0.0])


def test_an_entry_absent_from_a_workload_never_reached_it():
    summaries = [_summary("mlp", "sgd", "constant", 10.0), _summary("mlp", "adam", "constant", 20.0),
                 _summary("cnn", "sgd", "constant", 30.0)]  # adam never ran on cnn
    profile = build(summaries, "optimizer", ["model"])
    cnn = next(w for w in profile.workloads if w[0] == "cnn")
    assert profile.ratio("adam", cnn) == math.inf
    assert profile.score("adam") == pytest.approx((TAU_MAX - 2) / (TAU_MAX - 1) / 2)


def test_a_profile_needs_targets_and_two_entries():
    with pytest.raises(ZooError, match="--target-acc"):
        build([{**_summary("mlp", "sgd", "constant", 1.0), "target_acc": None}], "optimizer", ["model"])
    with pytest.raises(ZooError, match="only one optimizer"):
        build([_summary("mlp", "sgd", "constant", 1.0)], "optimizer", ["model"])
    with pytest.raises(ZooError, match="cannot also define"):
        workload_fields("optimizer", ["model", "optimizer"])


def write_profile_store(out: Path) -> None:
    """Three seeds per combination with the times of TIMES (a seed off by +-1 s, so the
    median is the time): real rows through the results store."""
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store

    store = Store(out / "results.db")
    try:
        for (model, optimizer, schedule), time in TIMES.items():
            for seed, jitter in enumerate([-1.0, 0.0, 1.0]):
                cell = Cell(entries={"datasets": "mnist", "models": model, "optimizers": optimizer,
                                     "schedules": schedule, "regularizers": "none",
                                     "launchers": "single"}, nprocs=1, device="cpu", epochs=2,
                            batch_size=10, seed=seed, params={}, target_acc=0.9)
                store.record(cell, status="ok", reason="", val_acc=0.92, test_acc=0.91,
                             wall_time=100.0, time_to_target=None if time is None else time + jitter,
                             num_classes=10)
    finally:
        store.close()


@pytest.mark.integration
def test_zoo_results_profile_prints_the_hand_worked_scores(tmp_path):
    write_profile_store(tmp_path)
    proc = zoo("results", str(tmp_path), "--profile", "optimizers", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [e["name"] for e in data["entries"]] == ["adam", "sgd", "momentum"]
    for entry in data["entries"]:
        assert entry["score"] == pytest.approx(SCORES[entry["name"]])
        on_mlp, on_cnn = RATIOS[entry["name"]]
        assert entry["ratios"]["mnist/mlp/cpu@0.9"] == pytest.approx(on_mlp)
        assert entry["ratios"]["mnist/cnn/cpu@0.9"] == (None if on_cnn == math.inf else pytest.approx(on_cnn))
    table = zoo("results", str(tmp_path), "--profile", "optimizers")
    assert table.returncode == 0 and "score" in table.stdout.splitlines()[0]
    assert "0.833" in table.stdout.splitlines()[2]  # adam's row, first
    bad = zoo("results", str(tmp_path), "--profile", "kittens")
    assert bad.returncode == 2 and bad.stderr.startswith("zoo: error: --profile kittens")
