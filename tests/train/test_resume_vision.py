"""Bitwise resume for a batch-norm model (running mean and variance) and a dropout model,
at an epoch boundary and mid-epoch, on CIFAR-format data with augment=flip_crop; and a
BN checkpoint evaluates to the run's own test result.

Same method as test_resume.py: a reporter requests a real stop, the loop checkpoints and
returns "interrupted", and train() is called again with the same Job.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zoo import checkpoint as ckpt
from zoo.job import Job
from zoo.plugin import load_catalog
from zoo.train import train
from zoo.train.report import StopFlag

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

EPOCHS, BATCH, STEPS_PER_EPOCH = 2, 12, 9  # 120 images, 12 for validation: 108 = 9 x 12
TIMING_KEYS = {"images_per_s", "seconds", "elapsed"}
# shufflenet_v2_x0_25: 56 batch-norm layers in 100k parameters, a tenth of resnet18's time
MODELS = {"shufflenet_v2_x0_25": "batch norm", "squeezenet1_1": "dropout"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def cifar(tmp_path_factory, write_cifar_folder, cifar_files):
    return write_cifar_folder(tmp_path_factory.mktemp("cifar"), cifar_files(per_file=24, n_test=30))


def make_job(out: Path, data_dir: Path, model: str) -> Job:
    return Job(out=str(out), entries={"models": model, "optimizers": "momentum",
                                      "schedules": "cosine", "datasets": "cifar10"}, data_dir=str(data_dir), epochs=EPOCHS, batch_size=BATCH,
               params={"datasets": {"progress": False, "augment": "flip_crop"}},
               checkpoint_every=3)


def final_arrays(out: Path) -> dict[str, np.ndarray]:
    path = ckpt.list_checkpoints(out)[-1]
    assert path.name == ckpt.checkpoint_name(EPOCHS * STEPS_PER_EPOCH)
    return ckpt.load_checkpoint(path)[0]


def history(result) -> list[dict]:
    return [{k: v for k, v in epoch.items() if k not in TIMING_KEYS} for epoch in result.epochs]


@pytest.fixture(scope="module")
def reference(catalog, cifar, tmp_path_factory):
    done = {}

    def get(model):
        if model not in done:
            out = tmp_path_factory.mktemp(f"ref-{model}")
            result = train(make_job(out, cifar, model), catalog=catalog)
            assert result.status == "ok", result.reason
            assert result.global_step == EPOCHS * STEPS_PER_EPOCH
            done[model] = (out, result)
        return done[model]

    return get


@pytest.mark.parametrize("at", [STEPS_PER_EPOCH, STEPS_PER_EPOCH + 4], ids=["epoch-end", "mid-epoch"])
@pytest.mark.parametrize("model", MODELS, ids=list(MODELS.values()))
def test_resume_is_bitwise_equal(catalog, cifar, reference, tmp_path, model, at, stop_at, step_counter):
    ref_out, ref = reference(model)
    job = make_job(tmp_path, cifar, model)
    stop = StopFlag()
    stopped = train(job, stop_at(stop, at), catalog=catalog, stop=stop)
    assert stopped.status == "interrupted" and stopped.global_step == at
    at_stop = ckpt.load_checkpoint(ckpt.list_checkpoints(tmp_path)[-1])[0]
    result = train(job, counter := step_counter(), catalog=catalog)
    assert result.status == "ok" and result.resumed_from == at
    assert counter.steps == EPOCHS * STEPS_PER_EPOCH - at  # continued, not started over
    got, want = final_arrays(tmp_path), final_arrays(ref_out)
    # the resumed session trained the model further (dropout's draws included)
    moved = [k for k in at_stop if k.startswith("model/") and not np.array_equal(at_stop[k], got[k])]
    assert any(k.endswith(".weight") for k in moved), sorted(at_stop)[:5]
    assert set(got) == set(want)
    different = [k for k in want if not np.array_equal(got[k], want[k])]
    assert not different, f"arrays differ from the uninterrupted run: {different[:5]}"
    assert history(result) == history(ref) and result.test == ref.test


def test_the_checkpoints_hold_what_the_models_depend_on(catalog, reference):
    out, _ = reference("shufflenet_v2_x0_25")
    arrays = final_arrays(out)
    # Running statistics are saved, and they moved away from their initial 0 and 1.
    assert arrays["model/_conv1.1._mean"].shape == (24,) and np.abs(arrays["model/_conv1.1._mean"]).max() > 0
    assert not np.allclose(arrays["model/_conv1.1._variance"], 1.0)
    assert "optim/_conv1.0.weight/velocity_0" in arrays
    net = catalog.build("models", "squeezenet1_1", input_shape=(3, 32, 32), num_classes=10)
    assert any(type(layer).__name__ == "Dropout" and layer.p > 0 for layer in net.sublayers())


def test_a_batch_norm_checkpoint_evaluates_to_the_runs_test_result(reference, cifar, run_zoo):
    out, ref = reference("shufflenet_v2_x0_25")
    proc = run_zoo("eval", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["samples"] == 30 and report["class_names"][0] == "airplane"
    assert abs(report["loss"] - ref.test["loss"]) < 1e-6 and report["accuracy"] == ref.test["acc"]
