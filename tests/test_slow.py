"""Long real-training checks: `python3 dev.py test -m slow` (not in the default suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.job import Job
from zoo.train import train

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-5k"  # beside the checkout


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/data/mnist-5k")
def test_cnn_reaches_95_percent_on_mnist_5k(tmp_path):
    """The course CNN on 4,167 real training images, tested on the official 10,000."""
    job = Job(out=str(tmp_path / "run"), entries={"models": "cnn", "optimizers": "adam"},
              params={"optimizers": {"learning_rate": 0.001}, "datasets": {"progress": False}},
              data_dir=str(SHARED_MNIST), epochs=8, batch_size=100, seed=0)
    result = train(job)
    assert result.status == "ok"
    assert result.test["acc"] >= 0.95, result.test
