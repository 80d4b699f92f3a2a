"""`zoo results --leaderboard`: the published leaderboard's columns for any sweep, on a
store written through its own API (training rows and zoo bench-infer rows), and the peak
memory a real cell records and the leaderboard shows."""

from __future__ import annotations

import csv
import io
import statistics

import pytest

from zoo.bench.stats import mean_interval

# (model, seed) -> (val acc, test acc); mlp is the better model.
ACCS = {("mlp", 0): (0.90, 0.89), ("mlp", 1): (0.92, 0.90), ("mlp", 2): (0.91, 0.91),
        ("cnn", 0): (0.80, 0.79), ("cnn", 1): (0.82, 0.80), ("cnn", 2): (0.81, 0.78)}
# Peak RSS (MiB) by seed: the leaderboard shows the worst seed's.
PEAK = {0: 300.0, 1: 420.5, 2: 310.0}
# mlp's served seeds: (backend, p50 ms, img/s at the large batch); cnn was never served.
SERVED = [("dygraph", 0, 2.0, 900.0), ("dygraph", 1, 3.0, 1100.0), ("dygraph", 2, 4.0, 1000.0),
          ("onnxruntime", 0, 0.5, 5000.0)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    from zoo.bench import infer_store
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store

    out = tmp_path_factory.mktemp("board")
    store = Store(out / "results.db")
    try:
        cells = {}
        for (model, seed), (val, test) in ACCS.items():
            cell = Cell(entries={"datasets": "mnist", "models": model, "optimizers": "adam",
                                 "schedules": "constant", "regularizers": "none", "launchers": "single"},
                        nprocs=1, device="cpu", epochs=7, batch_size=100, seed=seed, params={})
            store.record(cell, status="ok", reason="", val_acc=val, test_acc=test, wall_time=10.0,
                         images_per_s=1000.0 + seed, num_classes=10, num_params=1234 if model == "mlp" else 99,
                         peak_rss_mb=PEAK[seed] if model == "mlp" else None)
            cells[model] = cell.key
        infer_store.ensure_table(store)
        for backend, seed, p50, ips in SERVED:
            infer_store.record(store, cells["mlp"], seed, backend, "cpu", status="ok", reason="",
                               p50_ms=p50, large_images_per_s=ips, images_per_s=ips / 10)
    finally:
        store.close()
    return out


@pytest.mark.integration
def test_csv_has_the_leaderboard_columns_with_intervals_and_serving(sweep, zoo, db_rows):
    proc = zoo("results", str(sweep), "--leaderboard", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(rows[0]) == ["model", "params", "epochs", "seeds", "val acc", "val acc ci low",
                             "val acc ci high", "test acc", "test acc ci low", "test acc ci high",
                             "train img/s", "peak rss MiB", "infer img/s dygraph", "p50 ms dygraph",
                             "infer img/s onnxruntime", "p50 ms onnxruntime"]
    assert [r["model"] for r in rows] == ["mlp", "cnn"]  # best validation accuracy first
    mlp, cnn = rows
    vals = [ACCS["mlp", s][0] for s in range(3)]
    assert float(mlp["val acc"]) == pytest.approx(statistics.fmean(vals))
    assert (float(mlp["val acc ci low"]), float(mlp["val acc ci high"])) == pytest.approx(mean_interval(vals))
    assert (mlp["params"], mlp["epochs"], mlp["seeds"]) == ("1234", "7", "3")
    assert float(mlp["p50 ms dygraph"]) == 3.0 and float(mlp["infer img/s dygraph"]) == 1000.0
    assert float(mlp["p50 ms onnxruntime"]) == 0.5
    assert float(mlp["peak rss MiB"]) == max(PEAK.values()) and cnn["peak rss MiB"] == ""  # none recorded
    assert cnn["p50 ms dygraph"] == "" and cnn["infer img/s onnxruntime"] == ""  # never served
    assert len(db_rows(sweep)) == 6


# A model whose factory holds HOG_MIB of touched memory while the run builds it: the
# training process's peak must show it, a plain cell's must not.  Two plain cells' peaks
# differ by up to ~100 MiB here (which cell the fork server served first, what Paddle
# allocated), so the hog is large against that: 1 GiB, of 24 on this machine.
HOG_MIB = 1024
HOG_PLUGIN = f"""
import numpy as np
import zoo
from zoo.plugins.models import build_mlp


def build_hog(input_shape, num_classes, *, hidden1: int = 32, hidden2: int = 16):
    held = np.ones({HOG_MIB} * 2**20, dtype=np.uint8)  # written, so resident
    held.sum()
    del held
    return build_mlp(input_shape, num_classes, hidden1=hidden1, hidden2=hidden2)


@zoo.hookimpl
def zoo_register_models(register):
    register("hog", build_hog, description="an MLP whose factory holds {HOG_MIB} MiB for a moment")
"""


@pytest.mark.integration
def test_a_real_cell_records_its_peak_memory_and_the_leaderboard_shows_it(tmp_path, monkeypatch,
                                                                          plugin_kit_class, bench, tiny_mlp,
                                                                          db_rows, metrics, cell_dir, zoo):
    kit = plugin_kit_class(tmp_path, monkeypatch)
    kit.add("zoo_test_hog", HOG_PLUGIN)
    out = tmp_path / "sweep"
    proc = bench(out, "--models", "mlp,hog", *tiny_mlp, env=kit.env())
    assert proc.returncode == 0, proc.stderr
    rows = {r["model"]: r for r in db_rows(out)}
    for model, row in rows.items():
        # what the worker wrote is what the store holds
        assert row["peak_rss_mb"] == metrics(cell_dir(out, model))["peak_rss_mb"]
        assert 50 < row["peak_rss_mb"] < 16 * 1024  # paddle imported; not a unit mix-up (KiB/B)
    # the preflight also built the hog, in a child of its own: only the cell's own process counts
    assert rows["hog"]["peak_rss_mb"] - rows["mlp"]["peak_rss_mb"] > 0.75 * HOG_MIB
    board = zoo("results", str(out), "--leaderboard", "--format", "csv", env=kit.env())
    assert board.returncode == 0, board.stderr
    shown = {r["model"]: float(r["peak rss MiB"]) for r in csv.DictReader(io.StringIO(board.stdout))}
    assert shown == {m: pytest.approx(r["peak_rss_mb"]) for m, r in rows.items()}


@pytest.mark.integration
def test_the_leaderboard_grid_is_eight_models_times_three_seeds_on_the_stated_subset(run_zoo, repo_root):

    proc = run_zoo("bench", "--grid", str(repo_root / "benchmarks" / "fashion-leaderboard.toml"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    cells = [line.split("-") for line in proc.stdout.splitlines() if line.startswith("fashion-mnist-")]
    models = list(dict.fromkeys(c[2] for c in cells))
    assert len(models) >= 8 and "cnn" in models  # the course CNN's row is compared in RESULTS.md
    assert sorted(c[-2] for c in cells) == sorted([f"s{s}" for s in range(3)] * len(models))
    assert all("n3000" in c for c in cells)  # the --limit-train subset its description states
