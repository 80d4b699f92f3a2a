"""Data layer: file readers (IDX, CIFAR-10 binary, image folders), download, location,
splits, batches and their transforms, the packaged MNIST sample and dataset fingerprints
(numpy only; Pillow only when an image folder is decoded)."""

from __future__ import annotations

from zoo.data.batches import BatchSampler, full_batches
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
from zoo.data.splits import Dataset, ImageDataset, MnistData, Split, load_mnist, split_off
from zoo.data.transform import Transform, image_shape, normalize_images, transform_of

__all__ = [
    "BatchSampler",
    "DEFAULT_MNIST_URL",
    "Dataset",
    "ImageDataset",
    "MNIST_FILES",
    "MNIST_SAMPLE_DIR",
    "MnistData",
    "MnistUnavailable",
    "SampleDataWarning",
    "Split",
    "Transform",
    "default_cache_dir",
    "download_files",
    "find_mnist_files",
    "fingerprint",
    "image_shape",
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
    "transform_of",
]
