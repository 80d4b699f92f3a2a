"""The MNIST sample shipped inside the package, and the warning for falling back to it."""

from __future__ import annotations

import warnings
from pathlib import Path

# 1,000 training and 500 test images; its README holds the licence and provenance.
MNIST_SAMPLE_DIR = Path(__file__).resolve().parent / "mnist_sample"


class SampleDataWarning(UserWarning):
    """MNIST was unavailable, so the packaged sample is used: results are not representative."""


def warn_sample_fallback(reason: object) -> None:
    warnings.warn(
        f"MNIST could not be found or downloaded ({reason}); using the 1,000-image sample "
        f"shipped with zoo ({MNIST_SAMPLE_DIR}) instead, so accuracies are not representative "
        "of MNIST (--set dataset.sample_fallback=false makes this an error)",
        SampleDataWarning,
        stacklevel=3,  # the caller of load_mnist
    )
