"""Performance profiles (zoo.bench.profiles) on a hand-worked example, and through
`zoo results --profile` on a store written with exactly those times."""

from __future__ import annotations

import json
import math

import pytest

from zoo.bench.profiles import TAU_MAX, build, workload_fields
from zoo.errors import ZooError


def _summary(model, optimizer, schedule, time):
    return {"dataset": "mnist", "model": model, "optimizer": optimizer, "schedule": schedule,
            "device": "cpu", "ok_runs": 3, "target_acc": 0.9, "time_to_target_median": time}


@pytest.fixture
def profile(profile_times):
    summaries = [_summary(*key, time) for key, time in profile_times.items()]
    return build(summaries, "optimizer", workload_fields("optimizer", None))


def test_hand_worked_ratios_rho_and_scores(profile, profile_ratios, profile_rho, profile_scores):
    assert [profile.workload_name(w) for w in profile.workloads] == ["mnist/cnn/cpu@0.9",
                                                                     "mnist/mlp/cpu@0.9"]
    cnn, mlp = profile.workloads
    for entry, (on_mlp, on_cnn) in profile_ratios.items():
        assert profile.ratio(entry, mlp) == pytest.approx(on_mlp)
        assert profile.ratio(entry, cnn) == pytest.approx(on_cnn)
    for (entry, tau), expected in profile_rho.items():
        assert profile.rho(entry, tau) == pytest.approx(expected)
    assert {e: profile.score(e) for e in profile.entries} == pytest.approx(profile_scores)
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


@pytest.mark.integration
def test_zoo_results_profile_prints_the_hand_worked_scores(tmp_path, zoo, write_profile_store, profile_ratios,
                                                           profile_scores):
    write_profile_store(tmp_path)
    proc = zoo("results", str(tmp_path), "--profile", "optimizers", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [e["name"] for e in data["entries"]] == ["adam", "sgd", "momentum"]
    for entry in data["entries"]:
        assert entry["score"] == pytest.approx(profile_scores[entry["name"]])
        on_mlp, on_cnn = profile_ratios[entry["name"]]
        assert entry["ratios"]["mnist/mlp/cpu@0.9"] == pytest.approx(on_mlp)
        assert entry["ratios"]["mnist/cnn/cpu@0.9"] == (None if on_cnn == math.inf else pytest.approx(on_cnn))
    table = zoo("results", str(tmp_path), "--profile", "optimizers")
    assert table.returncode == 0 and "score" in table.stdout.splitlines()[0]
    assert "0.833" in table.stdout.splitlines()[2]  # adam's row, first
    bad = zoo("results", str(tmp_path), "--profile", "kittens")
    assert bad.returncode == 2 and bad.stderr.startswith("zoo: error: --profile kittens")
