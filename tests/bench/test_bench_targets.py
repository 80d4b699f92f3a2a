"""zoo bench --target-from DIR: the target is the median best validation accuracy of the
seeds of DIR's best configuration on the same workload, recorded with every row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.bench.tables import summarize
from zoo.bench.targets import targets_from

# The earlier sweep: sgd is best by mean final val acc (0.80 > 0.70) on mnist/mlp/cpu; its
# seeds' best val accs 0.81 0.85 0.83 have the median 0.83.  adam's higher best val acc
# (0.95) must not count: the best configuration is picked by final val acc, as --best does.
EARLIER = {"sgd": [(0.80, 0.81), (0.79, 0.85), (0.81, 0.83)],
           "adam": [(0.70, 0.95), (0.69, 0.72), (0.71, 0.73)]}
TARGET = 0.83


def write_earlier(out: Path) -> None:
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store

    store = Store(out / "results.db")
    try:
        for optimizer, seeds in EARLIER.items():
            for seed, (val, best) in enumerate(seeds):
                cell = Cell(entries={"datasets": "mnist", "models": "mlp", "optimizers": optimizer,
                                     "schedules": "constant", "regularizers": "none",
                                     "launchers": "single"}, nprocs=1, device="cpu", epochs=3,
                            batch_size=100, seed=seed, params={})
                store.record(cell, status="ok", reason="", val_acc=val, best_val_acc=best,
                             test_acc=val, wall_time=10.0, num_classes=10)
    finally:
        store.close()


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    out = tmp_path_factory.mktemp("earlier")
    write_earlier(out)
    return out


def test_target_is_the_median_best_val_acc_of_the_best_configurations_seeds(earlier, db_rows):
    rows = db_rows(earlier)
    found = targets_from(summarize(rows), rows, "DIR")
    assert list(found) == [("mnist", "mlp", "cpu")]
    target = found["mnist", "mlp", "cpu"]
    assert target["target"] == TARGET
    assert target["from"] == ("median best val acc 0.8300 of 3 seed(s) of mnist/mlp/cpu with "
                              "optimizer=sgd, schedule=constant, regularizer=none, launch=single in DIR")


@pytest.mark.integration
def test_bench_records_the_target_and_its_source_with_every_row(earlier, tmp_path, bench, tiny_mlp, db_rows,
                                                                zoo):
    out = tmp_path / "b"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd,adam", "--target-from", str(earlier), *tiny_mlp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"target {TARGET:g} for mnist/mlp/cpu: median best val acc 0.8300 of 3 seed(s)" in proc.stderr
    rows = db_rows(out)
    assert len(rows) == 2
    for row in rows:
        assert row["target_acc"] == TARGET and f"in {earlier.absolute()}" in row["target_from"]
        assert json.loads(row["identity"])["target_from"] == row["target_from"]
    shown = zoo("results", str(out), "--format", "json")
    assert all(s["target_from"] == rows[0]["target_from"] for s in json.loads(shown.stdout))
    assert f"note: target {TARGET:g} from median best val acc" in shown.stderr


@pytest.mark.integration
def test_target_from_refuses_a_second_target_and_unknown_workloads(earlier, tmp_path, bench, tiny_mlp,
                                                                   assert_one_line_error):
    both = bench(tmp_path / "x", "--models", "mlp", "--optimizers", "sgd", "--target-from", str(earlier),
                 "--target-acc", "0.5", *tiny_mlp)
    assert_one_line_error(both, "--target-from and --target-acc both set the target")
    other = bench(tmp_path / "y", "--models", "cnn", "--optimizers", "sgd", "--target-from", str(earlier))
    assert_one_line_error(other, f"--target-from {earlier}: no ok result with a validation accuracy "
                                 f"for mnist/cnn/cpu")
    nothing = bench(tmp_path / "z", "--models", "mlp", "--target-from", str(tmp_path / "none"), *tiny_mlp)
    assert_one_line_error(nothing, "no results.db here")
