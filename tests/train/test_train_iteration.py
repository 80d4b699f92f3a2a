"""Quick iteration: ``--limit-train N`` (a deterministic subset, part of the identity),
``zoo train --threads T`` (bench's meaning and identity rule) and plain progress lines
when stderr is no terminal."""

from __future__ import annotations

import re

import numpy as np
import pytest

from zoo import checkpoint as ckpt
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.data.subset import limit_train, subset_indices
from zoo.plugin import load_catalog

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

ENTRIES = ["--model", "mlp", "--optimizer", "sgd", "--schedule", "constant", "--regularizer", "none"]


@pytest.fixture(scope="session")
def train_args(tiny_mlp):
    return [*ENTRIES, *tiny_mlp, "--epochs", "1", "--batch-size", "100", "--data-dir", str(MNIST_SAMPLE_DIR),
             "--set", "dataset.progress=false", "--quiet"]


def final_arrays(run):
    return ckpt.load_checkpoint(ckpt.list_checkpoints(run)[-1])[0]


def same_bits(a, b) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(autouse=True)
def _empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


# --- the subset ----------------------------------------------------------------------------


def test_the_subset_is_deterministic_class_balanced_and_sorted():
    labels = np.repeat(np.arange(4), [50, 30, 10, 5])  # sorted by class, unbalanced
    picked = subset_indices(labels, 20)
    assert np.array_equal(picked, subset_indices(labels.copy(), 20))  # same input, same subset
    assert list(picked) == sorted(picked) and len(set(picked)) == 20
    assert np.bincount(labels[picked]).tolist() == [5, 5, 5, 5]  # not the first 20 (class 0)
    few = np.bincount(labels[subset_indices(labels, 40)])  # classes 2 and 3 run out
    assert few[2:].tolist() == [10, 5] and sorted(few[:2].tolist()) == [12, 13]
    assert np.array_equal(subset_indices(labels, 1000), np.arange(len(labels)))


def test_every_dataset_family_draws_its_subset_by_the_same_rule(tmp_path, write_idx_set, write_cifar_folder,
                                                                write_imagefolder):
    catalog = load_catalog()
    folders = {"fashion-mnist": write_idx_set(tmp_path / "idx", n_train=120),
               "cifar10": write_cifar_folder(tmp_path / "cifar"),
               "imagefolder": tmp_path / "images"}
    write_imagefolder(folders["imagefolder"], per_class={"train": 10, "test": 2})
    for name, folder in folders.items():
        params = {"progress": False, "val_fraction": 0.0}
        full = catalog.build("datasets", name, params, data_dir=str(folder))
        small = limit_train(full, 12)
        again = limit_train(catalog.build("datasets", name, params, data_dir=str(folder)), 12)
        picked = subset_indices(full.train.labels, 12)
        assert len(small.train) == 12, name
        assert np.array_equal(small.train.images, full.train.images[picked]), name
        assert np.array_equal(small.train.labels, again.train.labels), name
        assert np.array_equal(small.train.images, again.train.images), name
        # Only training shrinks; the rest is the dataset's own.
        assert small.test is full.test and small.val is full.val, name
        assert small.input_shape == full.input_shape and small.class_names == full.class_names
    assert limit_train(full, None) is full


def test_a_limited_run_trains_on_n_images_and_a_changed_limit_is_another_run(tmp_path, run_zoo,
                                                                             assert_one_line_error,
                                                                             train_args):
    out = tmp_path / "run"
    proc = run_zoo("train", *train_args, "--limit-train", "300", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(300 train, 167 val, 500 test)" in proc.stdout.splitlines()[0]
    assert '"limit_train": 300' in (out / "job.json").read_text()
    other = run_zoo("train", *train_args, "--limit-train", "200", "--out", str(out))
    assert_one_line_error(other, "other settings")
    resumed = run_zoo("train", "--resume", str(out), "--limit-train", "200")
    assert_one_line_error(resumed, "--limit-train 200 (the run has 300)")
    assert_one_line_error(run_zoo("train", *train_args, "--limit-train", "0", "--out", str(tmp_path / "z")),
                          "--limit-train")


def test_a_sweep_with_another_limit_is_a_new_row_and_says_why(tmp_path, tiny_mlp, bench, db_rows, cell_dir,
                                                              assert_one_line_error):
    out = tmp_path / "b"
    args = ("--models", "mlp", "--optimizers", "sgd", *tiny_mlp)
    assert bench(out, *args, "--limit-train", "200").returncode == 0
    proc = bench(out, *args, "--limit-train", "300")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "limit_train 200 -> 300" in proc.stderr
    header = proc.stdout.splitlines()[0].split()  # the table says what the numbers are of
    assert header[header.index("nprocs") + 1] == "limit_train" and " 300 " in proc.stdout.splitlines()[2]
    rows = sorted(db_rows(out), key=lambda r: r["limit_train"])
    assert [r["limit_train"] for r in rows] == [200, 300] and rows[0]["cell"] != rows[1]["cell"]
    assert all(r["status"] == "ok" for r in rows)
    assert '"limit_train": 300' in (cell_dir(out, "mlp-sgd-constant-none-single1-cpu-n300-s0") /
                                     "job.json").read_text()
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nlimit_train = 0\n")
    assert_one_line_error(bench(out, *args, "--grid", str(grid), "--dry-run"), "limit_train must be in")


# --- threads -------------------------------------------------------------------------------


def test_train_threads_mean_what_bench_threads_mean(tmp_path, run_zoo, bench, tiny_mlp, cell_dir,
                                                    assert_one_line_error, train_args):
    """Paddle 3.3.1 on CPU gives other bits with 2 threads than with 1 (see
    test_bench_jobs); zoo train --threads 2 must give a bench cell's --threads 2 bits."""
    two, one = tmp_path / "two", tmp_path / "one"
    assert run_zoo("train", *train_args, "--threads", "2", "--out", str(two)).returncode == 0
    assert run_zoo("train", *train_args, "--out", str(one)).returncode == 0
    sweep = tmp_path / "b"
    proc = bench(sweep, "--models", "mlp", "--optimizers", "sgd", "--schedules", "constant",
                 "--regularizers", "none", "--launch", "single", *tiny_mlp, "--threads", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    cell = final_arrays(cell_dir(sweep, "mlp-sgd-constant-none-single1-cpu-t2-s0"))
    assert same_bits(final_arrays(two), cell)
    assert not same_bits(final_arrays(one), cell)
    # The thread count is part of the run's identity, as in a sweep.
    assert_one_line_error(run_zoo("train", *train_args, "--out", str(two)), "other settings")
    assert_one_line_error(run_zoo("train", "--resume", str(two), "--threads", "1"),
                          "--threads 1 (the run has 2)")


# --- progress without a terminal ------------------------------------------------------------


PROGRESS_LINE = re.compile(r"^epoch 1/1 step (\d+)/9  \d+ img/s  loss \d+\.\d{4}$")


def test_train_prints_plain_progress_lines_when_stderr_is_a_pipe(tmp_path, run_zoo, assert_one_line_error,
                                                                 train_args):
    import os

    env = {**os.environ, "ZOO_PROGRESS_INTERVAL": "0"}  # a line per step: no long run needed
    args = [a for a in train_args if a != "--quiet"]
    proc = run_zoo("train", *args, "--out", str(tmp_path / "run"), env=env)  # stderr: a pipe
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [int(m.group(1)) for line in proc.stderr.splitlines() if (m := PROGRESS_LINE.match(line))]
    assert steps == list(range(1, 10)), proc.stderr  # 833 images, 100 per step
    assert "\r" not in proc.stderr  # no bar drawn into the log
    quiet = run_zoo("train", *train_args, "--out", str(tmp_path / "quiet"), env=env)
    assert quiet.returncode == 0 and not any(PROGRESS_LINE.match(x) for x in quiet.stderr.splitlines())
    bad = {**os.environ, "ZOO_PROGRESS_INTERVAL": "soon"}
    assert_one_line_error(run_zoo("train", *args, "--out", str(tmp_path / "bad"), env=bad),
                          "ZOO_PROGRESS_INTERVAL")


def test_a_sweep_prints_plain_progress_lines_per_running_cell(tmp_path, monkeypatch, faulty_kit, run_zoo,
                                                              tiny_mlp):
    env = {**faulty_kit(tmp_path, monkeypatch).env(), "ZOO_PROGRESS_INTERVAL": "0"}
    out = tmp_path / "b"
    proc = run_zoo("bench", "--out", str(out), "--models", "slow", "--optimizers", "sgd", *tiny_mlp,
                   "--epochs", "1", "--batch-size", "100", "--data-dir", str(MNIST_SAMPLE_DIR),
                   env=env)  # not --quiet, and stderr is a pipe
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("running mnist-slow-sgd-")]
    assert lines, proc.stderr
    assert all(re.search(r": epoch 1/1 step \d+/9  \d+ img/s  loss (\d+\.\d{4}|-)$", x) for x in lines)
