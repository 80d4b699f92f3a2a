"""Fashion-MNIST: Zalando's article images, in MNIST's IDX layout and under MNIST's file names.

Loaded by the same IDX code as MNIST; only the files, their checksums, the mirror and the
class names differ.
"""

from __future__ import annotations

import os
from pathlib import Path

from zoo.data.download import download_files
from zoo.data.locate import find_mnist_files, idx_complete, locate_cached
from zoo.data.splits import ImageDataset, check_split_settings, load_idx_splits
from zoo.data.transform import check_augment

# The official files and md5 sums (github.com/zalandoresearch/fashion-mnist).
FASHION_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
DEFAULT_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_URL_ENV = "ZOO_FASHION_MNIST_URL"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
# Pixel mean and standard deviation of the 60,000 training images (0.2860 and 0.3530 of 255).
FASHION_MEAN = (72.94,)
FASHION_STD = (90.02,)
CACHE_NAME = "fashion-mnist"


def fashion_url() -> str:
    return os.environ.get(FASHION_URL_ENV) or DEFAULT_FASHION_URL


def load_fashion_mnist(data_dir: str | Path | None = None, *, val_fraction: float = 1 / 6,
                       split_seed: int = 0, download: bool = True, progress: bool = True,
                       augment: str = "none") -> ImageDataset:
    """Fashion-MNIST from ``data_dir`` (never written to), else zoo's cache, downloading
    the four files there with md5 checks.  ``val_fraction`` of the training images
    (chosen with ``split_seed``) is held out for validation, as for MNIST."""
    fraction = check_split_settings(val_fraction, split_seed)  # before any download
    check_augment(augment)

    def fetch(cache: Path) -> None:
        download_files(cache, fashion_url(), FASHION_FILES, progress=progress)

    folder = locate_cached(data_dir, CACHE_NAME, "Fashion-MNIST", idx_complete, fetch, download)
    files = find_mnist_files(folder, label="Fashion-MNIST", seed_format=False)
    train, val, test = load_idx_splits(files, fraction, split_seed)
    folder = files["train-images"].parent
    return ImageDataset(train, val, test, source=f"idx:{folder}", data_dir=str(folder.absolute()),
                        class_names=FASHION_CLASSES, mean=FASHION_MEAN, std=FASHION_STD,
                        augment=augment)
