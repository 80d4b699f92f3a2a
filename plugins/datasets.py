"""Built-in datasets: MNIST from IDX files or the course's JSON format, and the packaged sample."""

from __future__ import annotations

import zoo


def build_mnist(data_dir=None, *, val_fraction: float = 1 / 6, split_seed: int = 0,
                download: bool = True, progress: bool = True, sample_fallback: bool = True):
    from zoo.data import load_mnist

    return load_mnist(data_dir, val_fraction=val_fraction, split_seed=split_seed,
                      download=download, progress=progress, sample_fallback=sample_fallback)


def build_mnist_sample(data_dir=None, *, val_fraction: float = 1 / 6, split_seed: int = 0,
                       progress: bool = True):
    # data_dir is ignored: this entry is always the sample inside the package. progress
    # is accepted (nothing is downloaded) because sweeps and `zoo eval` pass it to every
    # dataset.
    from zoo.data import MNIST_SAMPLE_DIR, load_mnist

    return load_mnist(MNIST_SAMPLE_DIR, val_fraction=val_fraction, split_seed=split_seed,
                      download=False, progress=False)


@zoo.hookimpl
def zoo_register_datasets(register):
    register("mnist", build_mnist,
             description="MNIST digits (IDX files or the course's mnist.json.gz), 28x28, 10 classes")
    register("mnist-sample", build_mnist_sample,
             description="1,000/500 train/test MNIST sample shipped with zoo; offline smoke tests, "
                         "accuracies not representative")
