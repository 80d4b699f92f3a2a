"""Regenerate the small real-MNIST test fixtures in this folder.

    python tests/data/make_subset.py --idx-dir ../shared/data/mnist-5k \
        --seed-file ../shared/data/seed-format/mnist.json.gz

zoo/data/mnist_sample/ (the packaged ``mnist-sample`` dataset): the first 100 images of
each class of the training files (in file order, 1,000 in all) and the first 500 test
images, as gzip'd IDX files.
tests/data/seed-small/mnist.json.gz: the first 200 / 50 / 50 train / valid / eval entries
of a seed-format file, floats copied unchanged.
Output is byte-for-byte reproducible (gzip mtime 0). Standalone: numpy only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE_DIR = HERE.parents[1] / "zoo" / "data" / "mnist_sample"
PER_CLASS = 100
N_TEST = 500
SEED_COUNTS = (200, 50, 50)


def read_idx(path: Path) -> np.ndarray:
    """Minimal IDX reader (trusted input): uint8 array with the header's shape."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip'd IDX file (magic 0x0000 08 <ndim>)."""
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))


def make_idx_subset(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    labels = read_idx(src / "train-labels-idx1-ubyte.gz")
    images = read_idx(src / "train-images-idx3-ubyte.gz")
    # First PER_CLASS of each class, then back into file order.
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in range(10)]))
    write_idx(out / "train-images-idx3-ubyte.gz", images[keep])
    write_idx(out / "train-labels-idx1-ubyte.gz", labels[keep])
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        write_idx(out / name, read_idx(src / name)[:N_TEST])


def make_seed_subset(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with gzip.open(src, "rt") as f:
        parts = json.load(f)
    small = [[images[:n], labels[:n]] for (images, labels), n in zip(parts, SEED_COUNTS)]
    # json round-trips Python floats exactly, so the values are unchanged.
    text = json.dumps(small).encode()
    (out / "mnist.json.gz").write_bytes(gzip.compress(text, compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idx-dir", type=Path, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--seed-file", type=Path, help="a seed-format mnist.json.gz")
    parser.add_argument("--idx-out", type=Path, default=SAMPLE_DIR,
                        help="output folder of the IDX sample (default: zoo/data/mnist_sample)")
    parser.add_argument("--seed-out", type=Path, default=HERE / "seed-small",
                        help="output folder of the seed-format sample (default: tests/data/seed-small)")
    args = parser.parse_args()
    if args.idx_dir is None and args.seed_file is None:
        parser.error("give --idx-dir and/or --seed-file")
    if args.idx_dir is not None:
        make_idx_subset(args.idx_dir, args.idx_out)
    if args.seed_file is not None:
        make_seed_subset(args.seed_file, args.seed_out)


if __name__ == "__main__":
    main()
