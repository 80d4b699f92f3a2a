"""The GPU, on both builds.  On a CPU build (this CI) every GPU is "not available": the
one-line errors and skipped cells in test_train (test_unavailable_device_is_one_line_error:
'no CUDA support'), test_bench_launchers, test_deploy_backends, test_deploy_bench and
test_deploy_predict say so, with `missing_gpu()` naming a GPU that truly is missing on
either build.  On a CUDA build with a GPU, these tests train one real step there and
serve an export there through Paddle Inference, which must agree with the CPU.
"""

from __future__ import annotations

import json

import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

# 1,000 training images in one batch, no validation split: one optimizer step.
ONE_STEP = ("--model", "mlp", "--epochs", "1", "--batch-size", "1000", "--data-dir", str(MNIST_SAMPLE_DIR),
            "--set", "dataset.val_fraction=0", "--set", "dataset.progress=false", "--quiet")


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory, run_zoo, cuda_gpus):
    """Every test here needs it: where there is no GPU, they all skip, saying why."""
    if not cuda_gpus():
        pytest.skip("no CUDA GPU: this Paddle is a CPU build or the machine has none "
                    "(the CPU half is tested wherever 'gpu' appears)")
    out = tmp_path_factory.mktemp("gpu") / "run"
    proc = run_zoo("train", *ONE_STEP, "--device", "gpu", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_one_real_training_step_on_the_gpu(gpu_run):
    metrics = json.loads((gpu_run / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["device"] == "gpu:0"
    assert metrics["global_step"] == metrics["total_steps"] == 1
    assert 0 < metrics["test"]["acc"] <= 1


def test_an_export_serves_on_the_gpu_as_on_the_cpu(gpu_run, run_zoo):
    exported = run_zoo("export", str(gpu_run))
    assert exported.returncode == 0, exported.stderr[-3000:]
    export = gpu_run / "export-paddle"
    images = MNIST_SAMPLE_DIR / "t10k-images-idx3-ubyte.gz"
    served = {}
    for device in ("cpu", "gpu"):
        proc = run_zoo("predict", str(export), str(images), "--backend", "paddle-inference",
                       "--device", device, "--json")
        assert proc.returncode == 0, proc.stderr[-3000:]
        answer = json.loads(proc.stdout)
        assert answer["device"] == device and answer["backend"] == "paddle-inference"
        served[device] = [p["top"][0]["class"] for p in answer["predictions"]]
    # the same model on another device: float sums in another order may flip a near tie
    assert len(served["gpu"]) == 500
    assert sum(g == c for g, c in zip(served["gpu"], served["cpu"])) >= 495
