"""Built-in datasets: MNIST from IDX files or the course's JSON format."""

from __future__ import annotations

import zoo


def build_mnist(data_dir=None, *, val_fraction: float = 1 / 6, split_seed: int = 0,
                download: bool = True, progress: bool = True):
    from zoo.data import load_mnist

    return load_mnist(data_dir, val_fraction=val_fraction, split_seed=split_seed,
                      download=download, progress=progress)


@zoo.hookimpl
def zoo_register_datasets(register):
    register("mnist", build_mnist,
             description="MNIST digits (IDX files or the course's mnist.json.gz), 28x28, 10 classes",
             defaults={"val_fraction": 1 / 6, "split_seed": 0, "download": True, "progress": True})
