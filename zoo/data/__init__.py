"""MNIST data layer: file readers, download, location, splits, batches, the packaged
sample and dataset fingerprints (numpy only)."""

from __future__ import annotations

from zoo.data.batches import BatchSampler, full_batches, normalize_images
from zoo.data.download import DEFAULT_MNIST_URL, MNIST_FILES, download_files, mnist_url
from zoo.data.fingerprint import fingerprint
from zoo.data.idx import read_idx_images, read_idx_labels
from zoo.data.locate import (
    MnistUnavailable,
    default_cache_dir,
    find_mnist_files,
    locate_mnist,
    resolve_data_dir,
)
from zoo.data.sample import MNIST_SAMPLE_DIR, SampleDataWarning
from zoo.data.seedformat import read_seed_json
from zoo.data.splits import Dataset, MnistData, Split, load_mnist, split_off

__all__ = [
    "BatchSampler",
    "DEFAULT_MNIST_URL",
    "Dataset",
    "MNIST_FILES",
    "MNIST_SAMPLE_DIR",
    "MnistData",
    "MnistUnavailable",
    "SampleDataWarning",
    "Split",
    "default_cache_dir",
    "download_files",
    "find_mnist_files",
    "fingerprint",
    "full_batches",
    "load_mnist",
    "locate_mnist",
    "mnist_url",
    "normalize_images",
    "read_idx_images",
    "read_idx_labels",
    "read_seed_json",
    "resolve_data_dir",
    "split_off",
]
