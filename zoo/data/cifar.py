"""CIFAR-10 from its official *binary* version: fixed-size records of one label byte and
3x32x32 pixel bytes (``data_batch_1..5.bin``, ``test_batch.bin``).

Never the "python version": its batches are pickles, and unpickling a downloaded file can
run code.  A folder may hold the six ``.bin`` files, a ``cifar-10-batches-bin/`` folder
with them, or the ``cifar-10-binary.tar.gz`` archive.  An archive is never extracted into
a folder the user named: it is extracted once into zoo's cache, under its path, size,
inode and times (gunzipping 170 MB on every load cost 5% of an epoch of the fastest
model), or read in memory when the cache cannot be written.  A download goes into zoo's
cache, checked by md5, and is extracted there once.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from zoo.atomic import publish_dir, staging_dir, write_synced
from zoo.data.download import download_files
from zoo.data.locate import default_cache_dir, locate_cached
from zoo.data.splits import ImageDataset, Split, carve_val, check_split_settings, require
from zoo.data.transform import check_augment
from zoo.errors import DataError, one_line

CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FILES: dict[str, str] = {CIFAR10_ARCHIVE: "c32a1d4ab5d03f1284b67883e8d87530"}
DEFAULT_CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/"
CIFAR10_URL_ENV = "ZOO_CIFAR10_URL"
BATCH_DIR = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE  # label byte, then the red, green and blue planes, row-major
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
# Per-channel pixel mean and standard deviation of the 50,000 training images.
CIFAR10_MEAN = (125.31, 122.95, 113.87)
CIFAR10_STD = (62.99, 62.09, 66.70)
CACHE_NAME = "cifar10"
_PICKLED = ("cifar-10-python.tar.gz", "cifar-10-batches-py", "data_batch_1")


def cifar10_url() -> str:
    return os.environ.get(CIFAR10_URL_ENV) or DEFAULT_CIFAR10_URL


def read_records(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Records -> (uint8 images [N, 32, 32, 3], uint8 labels [N]); ``where`` names the file."""
    if len(data) % RECORD:
        raise DataError(f"{where}: {len(data):,} bytes is not a whole number of {RECORD:,}-byte "
                        "CIFAR-10 records (a truncated file, or not the binary version)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].copy()
    if labels.size and labels.max() > 9:
        first = int(np.argmax(labels > 9))
        raise DataError(f"{where}: record {first} has label {labels[first]}, expected 0-9")
    planes = records[:, 1:].reshape(-1, 3, SIDE, SIDE)
    return np.ascontiguousarray(planes.transpose(0, 2, 3, 1)), labels


def find_cifar(directory: Path) -> tuple[str, Path]:
    """("bin", folder with the six files) or ("tar", the archive); a DataError otherwise."""
    if not directory.is_dir():
        raise DataError(f"{directory}: data directory does not exist")
    for folder in (directory, directory / BATCH_DIR):
        if all((folder / name).is_file() for name in (*TRAIN_FILES, TEST_FILE)):
            return "bin", folder
    if (directory / CIFAR10_ARCHIVE).is_file():
        return "tar", directory / CIFAR10_ARCHIVE
    folder = directory / BATCH_DIR if (directory / BATCH_DIR).is_dir() else directory
    missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (folder / name).is_file()]
    hint = ""
    if any((directory / name).exists() for name in _PICKLED):
        hint = (" (this looks like the pickled Python version, which zoo never reads because "
                f"unpickling can run code; use the binary version {CIFAR10_ARCHIVE})")
    raise DataError(f"{folder}: no CIFAR-10 binary data, missing {', '.join(missing)} "
                    f"(or {BATCH_DIR}/ or {CIFAR10_ARCHIVE}){hint}; put the files there or "
                    "point --data-dir elsewhere")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None


def _archive_members(archive: Path) -> dict[str, bytes]:
    """The six batch files from the archive, read in memory (nothing is extracted)."""
    out = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in (*TRAIN_FILES, TEST_FILE):
                try:
                    member = tar.getmember(f"{BATCH_DIR}/{name}")
                except KeyError:
                    raise DataError(f"{archive}: has no {BATCH_DIR}/{name}") from None
                if not member.isfile():
                    raise DataError(f"{archive}: {BATCH_DIR}/{name} is not a regular file")
                out[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{archive}: corrupt or truncated archive ({one_line(exc)})") from None
    return out


def _extract(archive: Path, dest: Path) -> None:
    """The six batch files of ``archive`` into the folder ``dest``, atomically (a staging
    folder renamed); an OSError means ``dest`` cannot be written."""
    members = _archive_members(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with staging_dir(dest) as staging:
        for name, data in members.items():
            write_synced(staging / name, data)
        publish_dir(staging, dest, replace=True)  # over an incomplete earlier extraction


def _extract_into_cache(cache: Path) -> None:
    """cache/cifar-10-binary.tar.gz -> cache/cifar-10-batches-bin/; the archive is removed
    after (the extracted files are what later loads read)."""
    try:
        _extract(cache / CIFAR10_ARCHIVE, cache / BATCH_DIR)
    except OSError as exc:
        raise DataError(f"{cache}: cannot extract {CIFAR10_ARCHIVE} ({exc.strerror or exc})") from None
    (cache / CIFAR10_ARCHIVE).unlink()


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (*TRAIN_FILES, TEST_FILE))


def _cache_complete(cache: Path) -> bool:
    return _complete(cache / BATCH_DIR)


def _extracted_copy(archive: Path) -> Path | None:
    """A folder in zoo's cache with ``archive``'s batch files (extracted on first use), or
    None when the cache cannot be written.  Keyed by the archive's path, size, inode and
    times: replacing or rewriting it extracts again."""
    st = archive.stat()
    key = hashlib.sha256(f"{archive.resolve()}\0{st.st_size}\0{st.st_ino}\0{st.st_mtime_ns}\0"
                         f"{st.st_ctime_ns}".encode()).hexdigest()[:32]
    folder = default_cache_dir(CACHE_NAME) / "archives" / key
    if _complete(folder):
        return folder
    try:
        _extract(archive, folder)
    except OSError:
        return None
    return folder


def load_cifar10(data_dir: str | Path | None = None, *, val_fraction: float = 0.1,
                 split_seed: int = 0, download: bool = True, progress: bool = True,
                 augment: str = "none") -> ImageDataset:
    """CIFAR-10 (binary version) from ``data_dir``, else zoo's cache, downloading the
    official archive there (md5-checked).  ``val_fraction`` of the 50,000 training images,
    chosen with ``split_seed``, is held out for validation."""
    fraction = check_split_settings(val_fraction, split_seed)  # before any download
    check_augment(augment)

    def fetch(cache: Path) -> None:
        download_files(cache, cifar10_url(), CIFAR10_FILES, progress=progress)  # if missing
        _extract_into_cache(cache)

    directory = locate_cached(data_dir, CACHE_NAME, "CIFAR-10", _cache_complete, fetch, download)
    kind, where = find_cifar(directory)
    source = f"cifar-{kind}:{where}"
    if kind == "tar":
        # A record is named in the archive the user gave, even when it is read from
        # zoo's extracted copy: that copy is no file the user knows.
        label, folder = (lambda name: f"{where}:{BATCH_DIR}/{name}"), where.parent
        extracted = _extracted_copy(where)
        if extracted is not None:
            source += f" (extracted to {extracted})"
            folder = extracted  # what workers are handed: the folder actually read
            blobs = {name: _read_file(extracted / name) for name in (*TRAIN_FILES, TEST_FILE)}
        else:
            blobs = _archive_members(where)
    else:
        blobs = {name: _read_file(where / name) for name in (*TRAIN_FILES, TEST_FILE)}
        label, folder = (lambda name: where / name), where
    parts = [read_records(blobs[name], label(name)) for name in TRAIN_FILES]
    train_all = Split(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    test = Split(*read_records(blobs[TEST_FILE], label(TEST_FILE)))
    require(label(TRAIN_FILES[0]), train_all, "training images")
    require(label(TEST_FILE), test, "test images")
    train, val = carve_val(label(TRAIN_FILES[0]), train_all, fraction, split_seed)
    return ImageDataset(train, val, test, source=source,
                        data_dir=str(folder.absolute()), class_names=CIFAR10_CLASSES,
                        mean=CIFAR10_MEAN, std=CIFAR10_STD, augment=augment)
