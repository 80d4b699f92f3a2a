"""imagefolder's decode cache, in zoo's cache folder (never inside the user's data folder).

A cache file is named by a hash of every image's bytes and the decoding options, and it
is read back as strictly as the images themselves: every array must have the shape,
type and labels the folder's listing implies, else the images are decoded again and the
cache rewritten.  Hashing every file took half of a cached load, so the content hash is
itself remembered under the files' names, sizes, inodes and modification and change
times (as git's index does): a write to a file changes its ctime even when its mtime is
put back.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from zoo.atomic import write_bytes_atomic
from zoo.data.locate import default_cache_dir
from zoo.errors import DataError

CACHE_NAME = "imagefolder"
# Part of every cache key: bump it when decoding changes, so old caches are never used.
FORMAT = "zoo-imagefolder/2"


def cache_dir() -> Path:
    return default_cache_dir(CACHE_NAME)


def content_key(listing, mode: str, size: int) -> str:
    """sha256 of the options, the class names and every file's name, label and bytes."""
    digest = hashlib.sha256(f"{FORMAT}\0{mode}\0{size}\0".encode()
                            + "/".join(listing.class_names).encode("utf-8", "surrogateescape"))
    for items in listing.files.values():
        for path, label in items:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
            # surrogateescape: a name that is not UTF-8 is hashed as the bytes it is.
            name = path.relative_to(listing.root).as_posix().encode("utf-8", "surrogateescape")
            digest.update(b"\0%s\0%d\0%d\0" % (name, label, len(data)))
            digest.update(data)
    return digest.hexdigest()


def cache_key(listing, mode: str, size: int) -> str:
    """``content_key``, remembered under the listing's signature so unchanged files are
    not read again."""
    memo = hashlib.sha256(f"{FORMAT}\0{mode}\0{size}\0{listing.signature}\0".encode()
                          + str(listing.root.absolute()).encode("utf-8", "surrogateescape"))
    path = cache_dir() / f"files-{memo.hexdigest()[:40]}.key"
    try:
        key = path.read_text().strip()
        if len(key) == 64 and all(c in "0123456789abcdef" for c in key):
            return key
    except (OSError, UnicodeDecodeError):
        pass
    key = content_key(listing, mode, size)
    _write_quietly(path, lambda out: out.write(key.encode()))
    return key


def _problem(arrays: dict[str, np.ndarray], listing, mode: str, size: int) -> str | None:
    """What is wrong with cached arrays for this listing and these options, or None."""
    side = None
    for split, entries in listing.files.items():
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        grey = images.ndim == 3
        if images.dtype != np.uint8 or not (grey or (images.ndim == 4 and images.shape[3] == 3)):
            return f"{split} images are {images.dtype} {list(images.shape)}"
        if len(images) != len(entries) or (mode == "grayscale" and not grey) \
                or (mode == "rgb" and grey) or (size and images.shape[1:3] != (size, size)):
            return f"{split} images have shape {list(images.shape)}"
        if side not in (None, images.shape[1:]):
            return f"{split} images have shape {list(images.shape)}, others {list(side)}"
        side = images.shape[1:]
        expected = np.array([label for _, label in entries])
        if not np.issubdtype(labels.dtype, np.integer) or labels.shape != expected.shape \
                or not np.array_equal(labels, expected):
            return f"{split} labels differ from the folders'"
    channels = 1 if len(side) == 2 else 3
    for name in ("mean", "std"):
        values = arrays[name]
        if values.shape != (channels,) or not np.all(np.isfinite(values)) or values.min() < 0:
            return f"{name} is {values!r}"
    if arrays["std"].min() <= 0:
        return "std is not positive"
    return None


def read_cache(key: str, listing, mode: str, size: int) -> dict[str, np.ndarray] | None:
    """The cached arrays of ``key`` if they are exactly what decoding would give in shape,
    type and labels; None (decode again) for a missing, damaged or foreign cache."""
    path = cache_dir() / f"imagefolder-{key[:40]}.npz"
    wanted = [f"{s}_{a}" for s in listing.files for a in ("images", "labels")] + ["mean", "std"]
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in wanted}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing or damaged: decode again and overwrite it
    return None if _problem(arrays, listing, mode, size) else arrays


def write_cache(key: str, arrays: dict[str, np.ndarray]) -> None:
    _write_quietly(cache_dir() / f"imagefolder-{key[:40]}.npz", lambda out: np.savez(out, **arrays))


def _write_quietly(path: Path, write) -> None:
    """``write(file)`` into ``path`` atomically (``zoo.atomic``); a cache that cannot be
    written is no error (the data is still loaded, only the next load decodes again)."""
    try:
        write_bytes_atomic(path, write)
    except OSError:
        pass
