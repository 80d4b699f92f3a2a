"""`zoo train` / `zoo eval` and the training loop on real (small) MNIST: what a run
writes, re-running and refusing runs, evaluation, pickle safety, divergence, and the
one-line errors for bad devices, names, parameters and data directories."""

from __future__ import annotations

import json
import os
import math
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from zoo import checkpoint as ckpt
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.errors import TrainingError
from zoo.job import Job
from zoo.plugin import load_catalog
from zoo.train import train

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

DATA = ["--data-dir", str(MNIST_SAMPLE_DIR), "--set", "dataset.progress=false"]
SMALL_CNN = ["--set", "model.channels=4"]
EPOCH_KEYS = {"epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
              "images_per_s", "seconds", "elapsed"}


def tree_state(path: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file below ``path``: shows whether anything was rewritten."""
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


def assert_checkpoints_finite(out: Path) -> list[int]:
    steps = []
    for path in ckpt.list_checkpoints(out):
        arrays, _ = ckpt.load_checkpoint(path)
        assert arrays and ckpt.all_finite(arrays), path
        steps.append(int(path.name.split("-")[1]))
    return steps


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, run_zoo):
    """One real `zoo train` run: cnn (4 channels) / adam / 2 epochs on the 1000-image subset."""
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = run_zoo("train", *DATA, *SMALL_CNN, "--epochs", "2", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out, proc


# --- what a run writes ---------------------------------------------------------------

def test_cli_train_prints_epochs_and_test(finished_run):
    out, proc = finished_run
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("training cnn / adam / constant / none on mnist (833 train, 167 val, 500 test) on cpu")
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    test_lines = [line for line in lines if line.startswith("test loss")]
    assert len(test_lines) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    loss, acc = map(float, re.match(r"test loss (\S+) acc (\S+)", test_lines[0]).groups())
    assert loss == round(metrics["test"]["loss"], 4) and acc == round(metrics["test"]["acc"], 4)
    epoch2 = next(line for line in lines if line.startswith("epoch 2/2"))
    assert f"val loss {metrics['epochs'][1]['val_loss']:.4f} acc {metrics['epochs'][1]['val_acc']:.4f}" in epoch2
    assert "Traceback" not in proc.stderr


def test_metrics_job_and_visualdl_files(finished_run):
    out, _ = finished_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["reason"] == ""
    assert metrics["global_step"] == metrics["total_steps"] == 18
    assert metrics["device"] == "cpu" and metrics["resumed_from"] is None
    epochs = metrics["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2] and [e["step"] for e in epochs] == [9, 18]
    for e in epochs:
        assert set(e) == EPOCH_KEYS
        assert all(math.isfinite(e[k]) for k in ("train_loss", "val_loss"))
        assert 0 <= e["train_acc"] <= 1 and 0 <= e["val_acc"] <= 1
        assert e["lr"] == 0.01 and e["images_per_s"] > 0 and e["seconds"] > 0
    # active time at each epoch's end: its training and validation, and all before it
    assert 0 < epochs[0]["seconds"] < epochs[0]["elapsed"] < epochs[1]["elapsed"] <= metrics["elapsed"]
    # It learns: 2 epochs over 833 images get well above chance (10%).
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"] and epochs[1]["val_acc"] > 0.4
    assert set(metrics["test"]) == {"loss", "acc"} and 0.4 < metrics["test"]["acc"] <= 1
    assert metrics["elapsed"] >= metrics["train_time"] > 0

    job = Job.load(out / "job.json")
    assert job == Job.from_dict(metrics["job"])
    assert (job.model, job.optimizer, job.epochs, job.params["models"]) == ("cnn", "adam", 2, {"channels": 4})
    assert [p.name for p in ckpt.list_checkpoints(out)] == ["step-000000009", "step-000000018"]

    from visualdl import LogReader

    logs = sorted((out / "vdl").glob("vdlrecords.*.log"))
    assert len(logs) == 1 and logs[0].stat().st_size > 0
    reader = LogReader(file_path=str(logs[0]))
    assert {"train/loss", "train/lr", "epoch/val_acc", "epoch/val_loss"} <= set(reader.get_tags()["scalar"])
    assert len(reader.get_data("scalar", "train/loss")) == 18
    val_acc = [(r.id, r.value) for r in reader.get_data("scalar", "epoch/val_acc")]
    assert [i for i, _ in val_acc] == [1, 2]
    assert np.allclose([v for _, v in val_acc], [e["val_acc"] for e in epochs], atol=1e-6)


def test_rerunning_a_finished_run_returns_ok_without_training(finished_run, tmp_path, run_zoo):
    out = tmp_path / "copy"
    shutil.copytree(finished_run[0], out)
    before, metrics_before = tree_state(out), json.loads((out / "metrics.json").read_text())
    proc = run_zoo("train", *DATA, *SMALL_CNN, "--epochs", "2", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith(("epoch ", "training "))]
    assert "resumed from" in proc.stdout and "test loss" in proc.stdout
    after = tree_state(out)
    # Nothing trained or evaluated again: checkpoints and VisualDL logs are untouched.
    assert {k: v for k, v in after.items() if k != "metrics.json" and k != "job.json"} == \
           {k: v for k, v in before.items() if k != "metrics.json" and k != "job.json"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert metrics["epochs"] == metrics_before["epochs"] and metrics["test"] == metrics_before["test"]


def test_same_out_with_other_settings_is_one_line_error(finished_run, run_zoo, assert_one_line_error):
    out, _ = finished_run
    before = tree_state(out)
    proc = run_zoo("train", *DATA, *SMALL_CNN, "--epochs", "3", "--out", str(out), "--quiet")
    assert_one_line_error(proc, str(out), "other settings", "--resume")
    assert tree_state(out) == before


# --- zoo eval --------------------------------------------------------------------------

def test_eval_run_dir_matches_metrics(finished_run, run_zoo):
    out, _ = finished_run
    metrics = json.loads((out / "metrics.json").read_text())
    # no --data-dir: a run is evaluated on the data it was trained on (its job.json)
    proc = run_zoo("eval", str(out), "--json", env={**os.environ, "ZOO_DATA_DIR": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["split"] == "test" and report["samples"] == 500
    assert report["checkpoint"] == str(out / "checkpoints" / "step-000000018")
    assert abs(report["loss"] - metrics["test"]["loss"]) < 1e-6
    assert abs(report["accuracy"] - metrics["test"]["acc"]) < 1e-6


def test_eval_val_split_with_detail(finished_run, run_zoo):
    out, _ = finished_run
    last = json.loads((out / "metrics.json").read_text())["epochs"][-1]
    proc = run_zoo("eval", str(out), "--data-dir", str(MNIST_SAMPLE_DIR), "--split", "val", "--detail")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"val loss {last['val_loss']:.4f} acc {last['val_acc']:.4f} (167 images)" in lines[0]
    # class images precision recall f1, then the confusion matrix: class name and 10 counts
    scores = [line.split() for line in lines if re.fullmatch(r"\s*\d\s+\d+(\s+(\d\.\d{4}|-)){3}", line)]
    matrix = [line.split() for line in lines if re.fullmatch(r"\s*\d(\s+\d+){10}", line)]
    assert [r[0] for r in scores] == [r[0] for r in matrix] == [str(c) for c in range(10)]
    counts = np.array([[int(n) for n in r[1:]] for r in matrix])
    assert counts.sum() == 167 and np.trace(counts) / 167 == pytest.approx(last["val_acc"], abs=1e-4)
    for c, (name, images, *shown) in enumerate(scores):
        # hand counts: the column holds what was predicted as c, the row what truly is c
        hits, predicted, actual = counts[c, c], counts[:, c].sum(), counts[c].sum()
        precision = hits / predicted if predicted else None
        recall = hits / actual if actual else None
        f1 = (0.0 if recall == 0 else None if precision is None or recall is None else
              0.0 if hits == 0 else 2 * precision * recall / (precision + recall))
        assert int(images) == actual
        assert shown == ["-" if v is None else f"{v:.4f}" for v in (precision, recall, f1)]


@pytest.fixture(scope="module")
def plain_pdparams(tmp_path_factory):
    """A plain Paddle state dict of a default cnn and its loss/accuracy on the test split."""
    import paddle

    from zoo.data import transform_of
    from zoo.train.evaluate import evaluate

    catalog = load_catalog()
    paddle.seed(7)
    net = catalog.build("models", "cnn", input_shape=(1, 28, 28), num_classes=10)
    path = tmp_path_factory.mktemp("pdparams") / "model.pdparams"
    paddle.save(net.state_dict(), str(path))
    data = catalog.build("datasets", "mnist", {"progress": False}, data_dir=str(MNIST_SAMPLE_DIR))
    return path, evaluate(net, data.test, 10, transform=transform_of(data))


def test_plain_pdparams_needs_trust_pickle(plain_pdparams, run_zoo, assert_one_line_error):
    path, _ = plain_pdparams
    proc = run_zoo("eval", str(path), "--model", "cnn", "--dataset", "mnist", "--data-dir", str(MNIST_SAMPLE_DIR))
    assert_one_line_error(proc, "refusing to load", "--trust-pickle")
    assert proc.stdout == ""


def test_plain_pdparams_needs_its_dataset_named(plain_pdparams, run_zoo, assert_one_line_error):
    path, _ = plain_pdparams
    # Its shape, classes and normalization come from the dataset: never guessed (as MNIST).
    proc = run_zoo("eval", str(path), "--model", "cnn", "--trust-pickle", "--data-dir", str(MNIST_SAMPLE_DIR))
    assert_one_line_error(proc, "needs --dataset")


def test_plain_pdparams_evaluated_with_trust_pickle(plain_pdparams, run_zoo):
    path, expected = plain_pdparams
    proc = run_zoo("eval", str(path), "--trust-pickle", "--model", "cnn", "--dataset", "mnist",
                   "--data-dir", str(MNIST_SAMPLE_DIR), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["model"] == "cnn" and report["samples"] == 500
    assert abs(report["loss"] - expected.loss) < 1e-6
    assert abs(report["accuracy"] - expected.accuracy) < 1e-6


class _Evil:
    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling creates the marker file


def test_malicious_pdparams_is_refused_without_running_it(tmp_path, run_zoo, assert_one_line_error):
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = str(marker)
    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"conv1.weight": evil}))
    proc = run_zoo("eval", str(path), "--model", "cnn", "--dataset", "mnist", "--data-dir", str(MNIST_SAMPLE_DIR))
    assert_one_line_error(proc, "refusing to load", "--trust-pickle")
    assert not marker.exists()
    # The file really is hostile: trusting it runs its code (and then fails cleanly).
    proc = run_zoo("eval", str(path), "--model", "cnn", "--dataset", "mnist", "--trust-pickle",
                   "--data-dir", str(MNIST_SAMPLE_DIR))
    assert_one_line_error(proc, "cannot load")
    assert marker.exists()


# --- one-line errors before any training -------------------------------------------------

@pytest.mark.parametrize("device, needles", [
    ("a missing gpu", None),
    ("tpu", ["unknown device 'tpu'", "available: cpu"]),
])
def test_unavailable_device_is_one_line_error(device, needles, tmp_path, cuda_gpus, missing_gpu, run_zoo,
                                              assert_one_line_error):
    if device == "a missing gpu":  # any GPU on a CPU build; the one after the last on CUDA
        device, needles = (missing_gpu(), [f"'{missing_gpu()}'", "no such GPU on this machine",
                                           "available: cpu, gpu:0"]) if cuda_gpus() else \
            ("gpu", ["'gpu'", "no CUDA support", "available: cpu"])
    out = tmp_path / "run"
    proc = run_zoo("train", *DATA, *SMALL_CNN, "--device", device, "--out", str(out), "--quiet")
    assert_one_line_error(proc, *needles)
    assert not out.exists()


@pytest.mark.parametrize("args, needles", [
    (["--model", "nope"], ["unknown model 'nope'", "registered: ", " cnn, ", " mlp, ", " resnet18, "]),
    (["--optimizer", "adamx"], ["unknown optimizer 'adamx'"]),
    (["--set", "model.nope=3"], ["model 'cnn' has no parameter 'nope'"]),
    (["--set", "model.channels=abc"], ["'channels' must be int"]),
    (["--set", "learning_rate=0.1"], ["expected KIND.PARAM=VALUE"]),
    (["--set", "optimiser.learning_rate=0.1"], ["unknown kind 'optimiser'"]),
    (["--data-dir", "/nonexistent"], ["/nonexistent", "does not exist"]),
])
def test_bad_names_parameters_and_data_dir_are_one_line_errors(args, needles, tmp_path, run_zoo,
                                                               assert_one_line_error):
    out = tmp_path / "run"
    proc = run_zoo("train", "--data-dir", str(MNIST_SAMPLE_DIR), *args, "--out", str(out), "--quiet")
    assert_one_line_error(proc, *needles)
    assert proc.stdout == ""  # not even the "training ..." line: nothing started
    assert not out.exists()


# --- offline: the packaged sample --------------------------------------------------------

TINY_MLP = ["--model", "mlp", "--optimizer", "sgd", "--set", "model.hidden1=32",
            "--set", "model.hidden2=16", "--epochs", "1", "--quiet"]


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No data folder named, an empty download cache and a mirror that refuses connections."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "ZOO_MNIST_URL": f"http://127.0.0.1:{port}/",
           "XDG_CACHE_HOME": str(tmp_path / "empty-cache")}
    env.pop("ZOO_DATA_DIR", None)
    return env


def test_offline_train_falls_back_to_the_sample_with_one_warning(tmp_path, run_zoo):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, "--set", "dataset.progress=false", "--out", str(out),
                   env=offline_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("zoo: warning:")]
    assert len(warnings) == 1, proc.stderr
    for needle in ("MNIST could not be found or downloaded", "Connection refused",
                   "1,000-image sample shipped with zoo", "not representative"):
        assert needle in warnings[0], warnings[0]
    assert "(833 train, 167 val, 500 test)" in proc.stdout
    assert json.loads((out / "metrics.json").read_text())["status"] == "ok"


def test_offline_train_without_fallback_is_one_line_error(tmp_path, run_zoo, assert_one_line_error):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, "--set", "dataset.progress=false",
                   "--set", "dataset.sample_fallback=false", "--out", str(out),
                   env=offline_env(tmp_path))
    assert_one_line_error(proc, "train-images-idx3-ubyte.gz", "download from", "failed", "--data-dir")
    assert "zoo: warning:" not in proc.stderr
    assert not out.exists()


def test_mnist_sample_dataset_trains_through_the_cli(tmp_path, run_zoo):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, "--dataset", "mnist-sample", "--out", str(out),
                   env=offline_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "zoo: warning:" not in proc.stderr  # chosen on purpose: nothing to warn about
    assert "on mnist-sample (833 train, 167 val, 500 test)" in proc.stdout


# --- empty splits ----------------------------------------------------------------------------

def data_with_empty(tmp_path: Path, role: str) -> Path:
    """The sample with one images/labels pair replaced by valid IDX files of 0 images."""
    import gzip
    import struct

    d = tmp_path / "data"
    shutil.copytree(MNIST_SAMPLE_DIR, d)
    gzip_idx = lambda *header: gzip.compress(struct.pack(f">{len(header)}I", *header))
    (d / f"{role}-images-idx3-ubyte.gz").write_bytes(gzip_idx(0x803, 0, 28, 28))
    (d / f"{role}-labels-idx1-ubyte.gz").write_bytes(gzip_idx(0x801, 0))
    return d


@pytest.mark.parametrize("role, needle", [("t10k", "holds no test images"),
                                          ("train", "holds no training images")])
def test_empty_split_file_is_one_line_error_before_training(tmp_path, role, needle, run_zoo,
                                                            assert_one_line_error):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, "--data-dir", str(data_with_empty(tmp_path, role)),
                   "--out", str(out))
    assert_one_line_error(proc, f"{role}-images-idx3-ubyte.gz", needle)
    assert proc.stdout == "" and not out.exists()  # nothing trained, no run left "running"


def test_val_fraction_zero_trains_without_validation(tmp_path, run_zoo, assert_one_line_error):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, *DATA, "--set", "dataset.val_fraction=0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "(1000 train, 0 val, 500 test)" in proc.stdout
    assert "val loss - acc -" in next(line for line in proc.stdout.splitlines() if line.startswith("epoch 1/1"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok" and 0 < metrics["test"]["acc"] <= 1
    (epoch,) = metrics["epochs"]
    assert epoch["val_loss"] is None and epoch["val_acc"] is None and epoch["train_loss"] > 0
    from visualdl import LogReader

    (log,) = (out / "vdl").glob("vdlrecords.*.log")
    tags = set(LogReader(file_path=str(log)).get_tags()["scalar"])
    assert {"epoch/train_loss", "epoch/lr"} <= tags and not {t for t in tags if "val" in t}
    # There is no validation split to evaluate on, and saying so is not a crash.
    assert_one_line_error(run_zoo("eval", str(out), "--split", "val"), "nothing to evaluate")


def test_target_acc_without_validation_is_one_line_error_before_training(tmp_path, run_zoo,
                                                                         assert_one_line_error):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, *DATA, "--set", "dataset.val_fraction=0",
                   "--target-acc", "0.5", "--out", str(out))
    assert_one_line_error(proc, "target accuracy 0.5", "validation split", "val_fraction=0")
    assert proc.stdout == "" and not out.exists()


def test_no_training_images_left_is_one_line_error(tmp_path, run_zoo, assert_one_line_error):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, *DATA, "--set", "dataset.val_fraction=0.9999", "--out", str(out))
    assert_one_line_error(proc, "no training images left after taking 1000 of 1000")
    assert not out.exists()


def test_fewer_images_than_one_global_batch_is_one_line_error(tmp_path):
    # Two ranks cannot share a partial global batch equally (833 < 2 x 500), so it is refused
    # while building, before any process group or step is needed.
    job = Job(out=str(tmp_path / "run"), entries={"models": "mlp", "optimizers": "sgd"}, batch_size=500,
              params={"models": {"hidden1": 32, "hidden2": 16}, "datasets": {"progress": False}},
              data_dir=str(MNIST_SAMPLE_DIR), epochs=1)
    with pytest.raises(TrainingError) as exc:
        train(job, catalog=load_catalog(), rank=0, world_size=2)
    assert "cannot batch the training data: 833 samples give no full global batch" in str(exc.value)
    assert "\n" not in str(exc.value) and not (tmp_path / "run").exists()


# --- seeds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [2**45, 2**63 - 1])  # where paddle.seed overflowed; the largest valid
def test_large_seeds_train(tmp_path, seed, run_zoo):
    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, *DATA, "--seed", str(seed), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["job"]["seed"] == seed


def test_seed_beyond_the_valid_range_is_one_line_error(tmp_path, run_zoo):
    from zoo.errors import TrainingError
    from zoo.job import Job
    from zoo.train import train

    out = tmp_path / "run"
    proc = run_zoo("train", *TINY_MLP, *DATA, "--seed", str(2**63), "--out", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Invalid value for '--seed'" in proc.stderr and not out.exists()
    # a job file written by hand (or another tool) is checked by the trainer itself
    with pytest.raises(TrainingError, match=r"seed must be an integer in \[0, 2\*\*63 - 1\]"):
        train(Job(out=str(out), entries={"models": "mlp"}, seed=2**63, data_dir=str(MNIST_SAMPLE_DIR)))
    assert not out.exists()


# --- divergence ----------------------------------------------------------------------------

NAN_PLUGIN = """
    import zoo


    def build_nanmlp(input_shape, num_classes, *, nan_from: int = 5, poison: str = "output"):
        import math

        import paddle
        from zoo.plugins.nets import MLP

        class NanMLP(MLP):
            # From the nan_from-th call on, either the logits are NaN ("output") or a
            # weight that takes no part in the output is set to NaN ("weights").
            def __init__(self):
                super().__init__(input_shape, num_classes, (16, 8))
                self.spare = self.create_parameter([3])
                self.calls = 0

            def forward(self, x):
                self.calls += 1
                out = super().forward(x)
                if self.calls >= nan_from:
                    if poison == "output":
                        return out * float("nan")
                    self.spare.set_value(paddle.full([3], math.nan))
                return out

        return NanMLP()


    @zoo.hookimpl
    def zoo_register_models(register):
        register("nanmlp", build_nanmlp, description="MLP that turns NaN",
                 defaults={"nan_from": 5, "poison": "output"})
"""


def test_nan_model_diverges_via_cli_exit_3(plugin_kit, tmp_path, run_zoo):
    plugin_kit.add("nan_plugin", NAN_PLUGIN)
    out = tmp_path / "run"
    proc = run_zoo("train", *DATA, "--model", "nanmlp", "--optimizer", "sgd", "--epochs", "2",
                   "--checkpoint-every", "2", "--out", str(out), "--quiet", env=plugin_kit.env())
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "zoo: run diverged: loss is nan at step 5 (epoch 1)" in proc.stderr
    assert "test loss" not in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and "step 5" in metrics["reason"]
    assert metrics["test"] is None
    assert assert_checkpoints_finite(out) == [2, 4]


def test_nan_weights_are_never_checkpointed(plugin_kit, tmp_path):
    plugin_kit.add("nan_plugin", NAN_PLUGIN)
    job = Job(out=str(tmp_path), entries={"models": "nanmlp", "optimizers": "sgd"},
              params={"models": {"poison": "weights"}, "datasets": {"progress": False}},
              data_dir=str(MNIST_SAMPLE_DIR), epochs=2, checkpoint_every=2)
    result = train(job, catalog=load_catalog(plugin_kit.registry))
    # The loss stays finite; the checkpoint due at step 6 finds the NaN and is refused.
    assert result.status == "diverged"
    assert result.reason == "non-finite parameters at step 6"
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"
    assert assert_checkpoints_finite(tmp_path) == [2, 4]


def test_real_divergence_with_huge_learning_rate(tmp_path):
    job = Job(out=str(tmp_path), entries={"models": "mlp", "optimizers": "sgd"},
              params={"models": {"hidden1": 32, "hidden2": 16}, "optimizers": {"learning_rate": 1e6},
                      "datasets": {"progress": False}},
              data_dir=str(MNIST_SAMPLE_DIR), epochs=2, checkpoint_every=1)
    result = train(job, catalog=load_catalog())
    assert result.status == "diverged", result
    assert re.fullmatch(r"loss is (nan|inf) at step \d+ \(epoch 1\)", result.reason)
    step = int(result.reason.split("step ")[1].split()[0])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["reason"] == result.reason
    assert metrics["test"] is None and metrics["epochs"] == []
    assert assert_checkpoints_finite(tmp_path) == list(range(max(1, step - 3), step))
