"""Generated stand-ins for Fashion-MNIST, CIFAR-10 and an image folder, in the real file
formats and at the real sizes, for machines without the data (this one is offline).

Loading, batching and training cost depend on the format and the sizes, not on what the
pixels show, so timings on these files hold for the real ones; accuracies do not.  Each
class gets its own brightness, so training is not pure noise.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def _images(n: int, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    noise = rng.integers(0, 64, size=(n, *shape), dtype=np.uint8)
    return noise + (labels * 19).astype(np.uint8).reshape(-1, *[1] * len(shape)), labels


def write_idx(folder: Path, n_train: int = 60_000, n_test: int = 10_000) -> Path:
    """The four gzip'd IDX files of a 28x28 grey set (Fashion-MNIST's names and layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = _images(n, (28, 28), seed)
        head = struct.pack(">IIII", 0x803, n, 28, 28)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(head + images.tobytes(), compresslevel=1, mtime=0))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(struct.pack(">II", 0x801, n) + labels.tobytes(), mtime=0))
    return folder


def write_cifar(folder: Path, n_train: int = 50_000, n_test: int = 10_000) -> Path:
    """data_batch_1..5.bin and test_batch.bin: records of a label byte and 3x32x32 planes."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = [n_train // 5 + (i < n_train % 5) for i in range(5)]
    names = [(f"data_batch_{i + 1}.bin", n) for i, n in enumerate(per_file)] + [("test_batch.bin", n_test)]
    for seed, (name, n) in enumerate(names):
        planes, labels = _images(n, (3, 32, 32), seed)
        (folder / name).write_bytes(np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1).tobytes())
    return folder


def write_imagefolder(root: Path, n_train: int = 5_000, n_test: int = 1_000, size: int = 32) -> Path:
    """ROOT/{train,test}/<class>/NNNNN.png, RGB size x size."""
    from PIL import Image

    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = _images(n, (size, size, 3), seed)
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:05d}.png")
    return root
