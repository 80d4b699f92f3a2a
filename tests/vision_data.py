"""Small datasets in the real file formats, written by the tests: IDX (Fashion-MNIST's
layout), CIFAR-10 binary records and its tar.gz, and image folders (PNG/JPEG via Pillow).

The pixels are random but learnable: each class has its own mean brightness, so a few
steps of training move the accuracy off chance.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
from pathlib import Path

import numpy as np

CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST = "test_batch.bin"
IDX_NAMES = {"train-images": "train-images-idx3-ubyte.gz", "train-labels": "train-labels-idx1-ubyte.gz",
             "t10k-images": "t10k-images-idx3-ubyte.gz", "t10k-labels": "t10k-labels-idx1-ubyte.gz"}


def images_for(labels: np.ndarray, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """uint8 images of ``shape`` per label, brighter for higher classes, with noise."""
    rng = np.random.default_rng(seed)
    base = (labels.astype(np.float64) * 22 + 20).reshape(-1, *[1] * len(shape))
    noise = rng.normal(0, 25, size=(len(labels), *shape))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def labels_for(n: int, seed: int, classes: int = 10) -> np.ndarray:
    return (np.arange(n) + seed) % classes


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape) + \
        array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """The four gzip'd IDX files of a 28x28 grey dataset (MNIST's and Fashion-MNIST's names)."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, 1)):
        labels = labels_for(n, seed + offset)
        (folder / IDX_NAMES[f"{prefix}-images"]).write_bytes(
            gzip.compress(idx_bytes(images_for(labels, (28, 28), seed + offset)), mtime=0))
        (folder / IDX_NAMES[f"{prefix}-labels"]).write_bytes(gzip.compress(idx_bytes(labels), mtime=0))
    return folder


def cifar_records(labels: np.ndarray, seed: int) -> tuple[bytes, np.ndarray]:
    """(file bytes, the same images as [N, 32, 32, 3]) in the CIFAR-10 binary layout."""
    images = images_for(labels, (32, 32, 3), seed)
    planes = images.transpose(0, 3, 1, 2).reshape(len(labels), -1)  # R plane, G plane, B plane
    records = np.concatenate([labels.astype(np.uint8)[:, None], planes], axis=1)
    return records.tobytes(), images


def cifar_files(per_file: int = 24, n_test: int = 30, seed: int = 0) -> dict[str, bytes]:
    files = {}
    for i, name in enumerate(CIFAR_TRAIN):
        files[name] = cifar_records(labels_for(per_file, seed + i), seed + i)[0]
    files[CIFAR_TEST] = cifar_records(labels_for(n_test, seed + 9), seed + 9)[0]
    return files


def write_cifar_folder(folder: Path, files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (files or cifar_files()).items():
        (folder / name).write_bytes(data)
    return folder


def cifar_tarball(files: dict[str, bytes] | None = None, inner: str = "cifar-10-batches-bin") -> bytes:
    """A cifar-10-binary.tar.gz holding the batch files under ``inner/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (files or cifar_files()).items():
            info = tarfile.TarInfo(f"{inner}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_image(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_imagefolder(root: Path, classes=("cat", "dog", "fox"), per_class: dict | None = None,
                      size: tuple[int, int] = (12, 10), ext: str = ".png", seed: int = 0,
                      splits=("train", "test"), grey: bool = False) -> dict[str, dict[str, list[np.ndarray]]]:
    """ROOT/<split>/<class>/NNN.ext with RGB images, or 8-bit grey ones with ``grey``
    (height x width = size); returns the written pixels per split and class, in file name
    order."""
    per_class = per_class or {"train": 4, "val": 2, "test": 2}
    written: dict[str, dict[str, list[np.ndarray]]] = {}
    for s_index, split in enumerate(splits):
        written[split] = {}
        for c_index, name in enumerate(classes):
            n = per_class[split]
            labels = np.full(n, c_index)
            arrays = images_for(labels, size if grey else (*size, 3), seed + 100 * s_index + c_index)
            for i, array in enumerate(arrays):
                write_image(root / split / name / f"{i:03d}{ext}", array)
            written[split][name] = list(arrays)
    return written


class FileServer:
    """A real HTTP server on 127.0.0.1 serving ``files`` (name -> bytes) under /data/."""

    def __init__(self, files: dict[str, bytes]) -> None:
        import http.server
        import threading

        self.files, self.requests = dict(files), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path.removeprefix("/data/"))
                self.send_response(200 if body is not None else 404)
                body = b"not found" if body is None else body
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
