"""The statistics in `zoo results`' tables, JSON, CSV and --compare, on sweeps written
through the results store (zoo.report.synthetic), checked against zoo.bench.stats applied
here to the stored rows themselves."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from zoo.bench.stats import iqm, mean_interval, resolve
from zoo.report.synthetic import write_synthetic_sweep

ONE_MODEL = {"models": ["mlp"], "optimizers": ["sgd", "adam", "momentum"], "schedules": ["constant"],
             "regularizers": ["none"], "launches": [("single", 1)]}


def _sweep(out: Path, repeats: int, seed: int = 0) -> Path:
    write_synthetic_sweep(out, 3, repeats=repeats, seed=seed, statuses=["ok"], axes=ONE_MODEL)
    return out


@pytest.fixture(scope="session")
def by_optimizer(db_rows):
    def _by_optimizer(out: Path, column: str) -> dict[str, dict[int, float]]:
        found: dict[str, dict[int, float]] = {}
        for row in db_rows(out):
            found.setdefault(row["optimizer"], {})[row["seed"]] = row[column]
        return found

    return _by_optimizer


def _plain(stdout: str) -> list[dict[str, str]]:
    import re

    lines = stdout.splitlines()
    split = [re.split(r"\s{2,}", line.strip()) for line in lines]
    return [dict(zip(split[0], cells)) for cells in split[2:]]


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    return _sweep(tmp_path_factory.mktemp("stats") / "five", 5)


@pytest.mark.integration
def test_json_carries_n_interval_iqm_and_hit_rate_of_the_stored_seeds(five, zoo, db_rows, by_optimizer):
    proc = zoo("results", str(five), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    stored = by_optimizer(five, "val_acc")
    tests = by_optimizer(five, "test_acc")
    for summary in json.loads(proc.stdout):
        seeds = stored[summary["optimizer"]]
        assert summary["ok_runs"] == 5
        assert {int(k): v for k, v in summary["val_acc_by_seed"].items()} == seeds
        assert (summary["val_acc_ci_low"], summary["val_acc_ci_high"]) == \
            pytest.approx(mean_interval(seeds.values()))
        assert summary["acc_iqm"] == pytest.approx(iqm(tests[summary["optimizer"]].values()))
        times = [r["time_to_target"] for r in db_rows(five) if r["optimizer"] == summary["optimizer"]]
        reached = sum(t is not None for t in times)
        assert summary["target_line"] == f"{reached}/5 reached 0.9"


@pytest.mark.integration
def test_table_shows_intervals_iqms_and_the_ranking_verdicts(five, zoo, by_optimizer):
    proc = zoo("results", str(five), "--sort", "val_acc")
    assert proc.returncode == 0, proc.stderr
    rows = _plain(proc.stdout)
    stored = by_optimizer(five, "val_acc")
    order = [r["optimizer"] for r in rows]
    means = {o: sum(v.values()) / 5 for o, v in stored.items()}
    assert order == sorted(means, key=lambda o: -means[o])
    for row, below in zip(rows, rows[1:] + [None]):
        low, high = mean_interval(stored[row["optimizer"]].values())
        assert row["cpu val acc 95% CI"] == f"[{low:.4f}, {high:.4f}]"
        assert row["cpu val acc IQM"] == f"{iqm(stored[row['optimizer']].values()):.4f}"
        expected = "-" if below is None else \
            resolve(stored[row["optimizer"]], stored[below["optimizer"]]).text
        assert row["cpu vs next"] == expected
        assert "reached 0.9" in row["cpu to target s"]


@pytest.mark.integration
def test_one_seed_shows_no_interval_and_says_so(tmp_path, zoo):
    out = _sweep(tmp_path / "one", 1)
    proc = zoo("results", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "95% CI" not in proc.stdout and "IQM" not in proc.stdout
    assert "one seed per combination: no confidence interval" in proc.stderr


@pytest.mark.integration
def test_mixed_seed_counts_say_n_where_there_is_no_interval(tmp_path, zoo):
    out = _sweep(tmp_path / "mixed", 2)
    write_synthetic_sweep(out, 1, seed=50, statuses=["ok"],  # a lone seed of another model
                          axes={**ONE_MODEL, "models": ["cnn"], "optimizers": ["sgd"]})
    import sqlite3

    con = sqlite3.connect(str(out / "results.db"))
    con.execute("DELETE FROM meta")  # both writes in one grid: show every row
    con.commit()
    con.close()
    rows = {(r["model"], r["optimizer"]): r for r in _plain(zoo("results", str(out)).stdout)}
    assert rows["cnn", "sgd"]["cpu val acc 95% CI"] == "n=1: no interval"
    assert rows["mlp", "sgd"]["cpu val acc 95% CI"].startswith("[")
    assert "cpu val acc IQM" not in rows["mlp", "sgd"]  # nobody has 5 seeds


@pytest.mark.integration
def test_csv_has_one_parseable_row_per_combination_with_the_statistics(five, zoo):
    proc = zoo("results", str(five), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 3
    for row in rows:
        assert float(row["val_acc_ci_low"]) <= float(row["val_acc"]) <= float(row["val_acc_ci_high"])
        assert len(row["val_acc_by_seed"].split()) == 5 and row["target_line"].endswith("reached 0.9")


@pytest.mark.integration
def test_compare_says_whether_each_difference_is_resolved(five, tmp_path, zoo, by_optimizer):
    other = _sweep(tmp_path / "other", 5, seed=0)
    import sqlite3

    con = sqlite3.connect(str(other / "results.db"))  # the other run: 0.2 lower on every seed
    con.execute("UPDATE results SET val_acc = val_acc - 0.2 WHERE optimizer = 'adam'")
    con.commit()
    con.close()
    proc = zoo("results", str(five), "--compare", str(other), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    by = {row["optimizer"]: row for row in json.loads(proc.stdout)}
    mine, theirs = by_optimizer(five, "val_acc"), by_optimizer(other, "val_acc")
    for optimizer, row in by.items():
        assert row["val resolved"] == resolve(mine[optimizer], theirs[optimizer]).text
    assert by["adam"]["val resolved"].startswith("resolved")
    assert by["sgd"]["val resolved"] == "not resolved with n=5"  # the same numbers


@pytest.mark.integration
def test_the_best_mark_says_when_the_runner_up_is_not_told_apart(five, tmp_path, zoo, by_optimizer):
    stored = by_optimizer(five, "val_acc")
    means = sorted(stored, key=lambda o: -sum(stored[o].values()))
    verdict = resolve(stored[means[0]], stored[means[1]])
    rows = {r["optimizer"]: r for r in _plain(zoo("results", str(five)).stdout)}
    mark = "(best)" if verdict.resolved else "(best, not resolved)"
    assert rows[means[0]]["cpu val acc"].endswith(mark)
    # Moved 0.3 up on every seed, the winner is told apart: the plain mark.
    import shutil
    import sqlite3

    apart = tmp_path / "apart"
    shutil.copytree(five, apart)
    con = sqlite3.connect(str(apart / "results.db"))
    con.execute("UPDATE results SET val_acc = val_acc + 0.3 WHERE optimizer = ?", (means[0],))
    con.commit()
    con.close()
    proc = zoo("results", str(apart))
    rows = {r["optimizer"]: r for r in _plain(proc.stdout)}
    assert rows[means[0]]["cpu val acc"].endswith("(best)")
    assert "resolved (95% intervals apart)" in proc.stderr


@pytest.mark.integration
def test_a_real_sweep_with_repeats_closes_with_the_seed_statistics(tmp_path, bench, tiny_mlp, by_optimizer):

    out = tmp_path / "real"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd,adam", "--repeat", "2",
                 "--target-acc", "0.05", *tiny_mlp, "--format", "json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = by_optimizer(out, "val_acc")
    for summary in json.loads(proc.stdout):
        seeds = stored[summary["optimizer"]]
        assert summary["ok_runs"] == 2 and len(seeds) == 2
        assert (summary["val_acc_ci_low"], summary["val_acc_ci_high"]) == \
            pytest.approx(mean_interval(seeds.values()))
        assert summary["target_line"] == "2/2 reached 0.05"
    verdict = resolve(stored["sgd"], stored["adam"])
    assert f": {verdict.text}" in proc.stderr  # the note on the (best) pick


def test_a_runner_up_that_differs_only_by_a_parameter_axis_is_named_by_it():
    from zoo.bench.stats_tables import winner_note

    def summary(lr: float, accs: list[float]) -> dict:
        return {"cell": f"c{lr}", "device": "cpu", "model": "mlp", "optimizer": "adam",
                "optimizer.learning_rate": lr, "ok_runs": len(accs), "val_acc": sum(accs) / len(accs),
                "val_acc_by_seed": dict(enumerate(accs))}

    best, other = summary(0.001, [0.90, 0.91, 0.92]), summary(0.01, [0.50, 0.52, 0.51])
    line = winner_note([best, other], best, ["optimizer.learning_rate"])
    assert "runner-up optimizer.learning_rate=0.01 (0.5100)" in line and "resolved" in line
