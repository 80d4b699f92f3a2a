"""Dataset types (Split, the Dataset protocol, ImageDataset) and MNIST's validated splits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from zoo.data.idx import read_idx_images, read_idx_labels
from zoo.data.locate import MnistUnavailable, find_mnist_files, locate_mnist
from zoo.data.sample import MNIST_SAMPLE_DIR, warn_sample_fallback
from zoo.data.seedformat import read_seed_json
from zoo.data.transform import image_shape
from zoo.errors import DataError

# MNIST's own normalization, the course's x / 127.5 - 1 ([0, 255] -> [-1, 1]), kept bit for
# bit (zoo.data.transform.normalize_images computes exactly that for these values).
MNIST_MEAN = (127.5,)
MNIST_STD = (127.5,)
# The course carves 10,000 of the 60,000 training images off for validation.
DEFAULT_VAL_FRACTION = 1 / 6
DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is ambiguous
class Split:
    """One split: uint8 images [N, H, W] (grey) or [N, H, W, C] (colour), 0..255, and
    integer labels [N] in 0..num_classes-1."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


class Dataset(Protocol):
    """What a dataset factory returns (see ``zoo_register_datasets``).

    An empty ``val`` split means "no validation": training skips it. A dataset may also
    have ``data_dir``, the absolute folder its files were loaded from (``None`` when it
    has no folder); a sweep passes it to its workers so they load the very same files.
    Required too: ``mean`` and ``std`` (per channel or one value, in pixel units 0..255;
    batches are ``(x - mean) / std``; there is no default).  Optional: ``source`` (where
    the data came from, for people), ``class_names`` and ``augment`` (``"none"`` or
    ``"flip_crop"``, training batches only).
    """

    train: Split
    val: Split
    test: Split

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    @property
    def num_classes(self) -> int: ...


@dataclass(frozen=True, eq=False)
class MnistData:
    """The three splits and where they came from (``idx:<dir>`` or ``seed:<file>``).

    ``data_dir`` is the absolute folder whose files were loaded: after a fallback, the
    packaged sample's, not the cache that was asked for.
    """

    train: Split
    val: Split
    test: Split
    source: str
    data_dir: str | None = None

    # The course's [-1, 1] scaling, kept bit for bit; MNIST is never augmented (a
    # mirrored digit is another glyph).
    class_names = DIGITS
    mean = MNIST_MEAN
    std = MNIST_STD
    augment = "none"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One grey channel: (1, 28, 28)."""
        return (1, *self.train.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return 10


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A loaded image dataset; ``input_shape`` follows the images, ``num_classes`` the names."""

    train: Split
    val: Split
    test: Split
    source: str
    data_dir: str | None
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str = "none"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return image_shape(self.train.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_mnist(
    data_dir: str | Path | None = None,
    val_fraction: float | None = None,
    split_seed: int = 0,
    download: bool = True,
    progress: bool = True,
    sample_fallback: bool = False,
) -> MnistData:
    """Load MNIST from ``data_dir`` (see ``locate_mnist``); downloads only into the cache.

    For IDX files the validation split is ``round(N * val_fraction)`` training images
    (default 1/6) chosen by a permutation seeded with ``split_seed``, so the same
    inputs always give the same splits; ``val_fraction=0`` means no validation split.
    A seed-format file keeps its own train/valid/eval split and ``val_fraction`` is ignored.

    With ``sample_fallback``, when no folder was named and MNIST is neither cached nor
    downloadable, the packaged sample is loaded instead, with a ``SampleDataWarning``.
    """
    # Checked first so a bad value never triggers a download.
    fraction = check_split_settings(DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction,
                                    split_seed)
    try:
        files = locate_mnist(data_dir, download=download, progress=progress)
    except MnistUnavailable as exc:
        if not sample_fallback:
            raise
        warn_sample_fallback(exc)
        files = find_mnist_files(MNIST_SAMPLE_DIR)
    if "seed" in files:
        path = files["seed"]
        parts = [_checked(path, path, images, labels) for images, labels in read_seed_json(path)]
        require(path, parts[0], "training images")
        require(path, parts[2], "test images (eval)")
        return MnistData(parts[0], parts[1], parts[2], source=f"seed:{path}",
                         data_dir=str(path.parent.absolute()))
    train, val, test = load_idx_splits(files, fraction, split_seed)
    folder = files["train-images"].parent
    return MnistData(train, val, test, source=f"idx:{folder}", data_dir=str(folder.absolute()))


def check_split_settings(val_fraction: float, split_seed: int) -> float:
    """``val_fraction`` as a float in [0, 1); a DataError for a bad fraction or seed."""
    fraction = float(val_fraction)
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if isinstance(split_seed, bool) or not isinstance(split_seed, int) or split_seed < 0:
        raise DataError(f"split_seed must be a non-negative integer, got {split_seed!r}")
    return fraction


def load_idx_splits(files: dict[str, Path], fraction: float, split_seed: int) -> tuple[Split, Split, Split]:
    """(train, val, test) from the four MNIST-layout IDX files found by ``find_mnist_files``."""
    train_all = _read_pair(files["train-images"], files["train-labels"])
    test = _read_pair(files["t10k-images"], files["t10k-labels"])
    require(files["train-images"], train_all, "training images")
    # Caught here, not after a whole epoch of training that then cannot be tested.
    require(files["t10k-images"], test, "test images")
    return carve_val(files["train-images"], train_all, fraction, split_seed) + (test,)


def carve_val(path: Path, train_all: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """``split_off``, refusing a fraction that leaves no training images (``path`` is named)."""
    train, val = split_off(train_all, fraction, seed)
    if len(train) == 0:
        raise DataError(
            f"{path}: no training images left after taking "
            f"{len(val)} of {len(train_all)} for validation"
        )
    return train, val


def split_off(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Deterministically split into (rest, held_out) with ``round(N * fraction)`` held out."""
    n = len(split)
    n_held = round(n * fraction)
    perm = np.random.default_rng(seed).permutation(n)
    # Sorting keeps each part in file order: the choice is random, the order is not.
    held = np.sort(perm[:n_held])
    rest = np.sort(perm[n_held:])
    return (
        Split(split.images[rest], split.labels[rest]),
        Split(split.images[held], split.labels[held]),
    )


def require(path: Path, split: Split, what: str) -> None:
    if len(split) == 0:
        raise DataError(f"{path}: holds no {what} (0 images)")


def _read_pair(images_path: Path, labels_path: Path) -> Split:
    images, labels = read_idx_images(images_path), read_idx_labels(labels_path)
    return _checked(images_path, labels_path, images, labels)


def _checked(images_path: Path, labels_path: Path, images: np.ndarray, labels: np.ndarray) -> Split:
    """Validate shapes and label range; each message names the offending file."""
    if images.shape[1:] != (28, 28):
        h, w = images.shape[1:]
        raise DataError(f"{images_path}: images are {h}x{w}, expected 28x28")
    if len(images) != len(labels):
        raise DataError(
            f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path.name}"
        )
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path}: labels outside 0-9 (found {int(labels.max())})")
    return Split(images, labels)
