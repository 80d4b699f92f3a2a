"""A user's own images: ``ROOT/train/<class>/*.png|jpg``, ``ROOT/test/<class>/*`` and an
optional ``ROOT/val/<class>/*``.

Images are decoded once with Pillow into uint8 arrays and cached beside the data, in
``ROOT/.zoo-cache/``, under a hash of every file's content and the decoding options: a
second load of unchanged files reads that cache and decodes nothing, and any change to a
file, a file name or an option misses it.  Reading every file to hash it took half of a
cached load, so the content hash is itself remembered under the files' names, sizes,
inodes and modification and change times (as git's index does): a write to a file
changes its ctime even when its mtime is put back.  When ROOT cannot hold the cache it
goes to zoo's cache folder instead.  Names starting with a dot are skipped (the cache,
.DS_Store...).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.locate import default_cache_dir
from zoo.data.splits import ImageDataset, Split, carve_val, check_split_settings
from zoo.data.transform import check_augment
from zoo.errors import DataError, one_line

EXTENSIONS = (".png", ".jpg", ".jpeg")
MODES = ("rgb", "grayscale")
SPLITS = ("train", "val", "test")
CACHE_DIR = ".zoo-cache"
# Part of every cache key: bump it when decoding changes, so old caches are never used.
_FORMAT = "zoo-imagefolder/1"


@dataclass(frozen=True)
class Listing:
    """What a folder holds: class names (sorted train folders) and (file, label) per split,
    and ``signature``, a hash of every file's name, label and stat (not its content)."""

    root: Path
    class_names: tuple[str, ...]
    files: dict[str, list[tuple[Path, int]]]  # split -> files in sorted order; no "val" if absent
    signature: str


def _visible(folder: Path) -> list[os.DirEntry]:
    # scandir: is_dir() comes with the listing, no stat per entry.
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None


def _class_files(class_dir: Path) -> list[os.DirEntry]:
    files = []
    for entry in _visible(class_dir):
        path = class_dir / entry.name
        if entry.is_dir():
            raise DataError(f"{path}: a folder inside a class folder (class folders hold image "
                            "files only)")
        if path.suffix.lower() not in EXTENSIONS:
            raise DataError(f"{path}: unknown image extension '{path.suffix}' (imagefolder reads "
                            f"{', '.join(EXTENSIONS)})")
        files.append(entry)
    if not files:
        raise DataError(f"{class_dir}: empty class (no {', '.join(EXTENSIONS)} images)")
    return files


def scan(root: Path) -> Listing:
    """List ROOT's splits; every problem is a DataError naming the file or folder."""
    if not root.is_dir():
        raise DataError(f"{root}: data directory does not exist")
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DataError(f"{root}: no {split}/ folder (imagefolder expects "
                            "ROOT/train/<class>/*.png|jpg, ROOT/test/<class>/... and optionally ROOT/val/)")
    files: dict[str, list[tuple[Path, int]]] = {}
    labels: dict[str, int] = {}
    signature = hashlib.sha256()
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            continue
        entries = _visible(folder)
        for entry in entries:
            if not entry.is_dir():
                raise DataError(f"{folder / entry.name}: images go in class folders "
                                f"({folder}/<class>/{entry.name})")
        if not entries:
            raise DataError(f"{folder}: no class folders")
        if split == "train":
            labels = {entry.name: i for i, entry in enumerate(entries)}
        files[split] = []
        for class_entry in entries:
            class_dir = folder / class_entry.name
            if class_entry.name not in labels:
                raise DataError(f"{class_dir}: class '{class_entry.name}' has no training folder "
                                f"{root / 'train' / class_entry.name}")
            label = labels[class_entry.name]
            for entry in _class_files(class_dir):
                st = entry.stat()
                signature.update(f"{split}/{class_entry.name}/{entry.name}\0{label}\0{st.st_size}\0"
                                 f"{st.st_ino}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0".encode())
                files[split].append((class_dir / entry.name, label))
    return Listing(root, tuple(labels), files, signature.hexdigest())


def content_key(listing: Listing, mode: str, size: int) -> str:
    """sha256 of the options, the class names and every file's name, label and bytes."""
    digest = hashlib.sha256(f"{_FORMAT}\0{mode}\0{size}\0{'/'.join(listing.class_names)}".encode())
    for split, items in listing.files.items():
        for path, label in items:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
            name = path.relative_to(listing.root).as_posix().encode()
            digest.update(b"\0%s\0%d\0%d\0" % (name, label, len(data)))
            digest.update(data)
    return digest.hexdigest()


def _decode(path: Path, mode: str, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if mode == "rgb" else "L")
            if size:
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # UnidentifiedImageError (not an image) and truncated files are OSErrors.
        raise DataError(f"{path}: cannot read image ({one_line(exc)})") from None


def decode(listing: Listing, mode: str, size: int, progress: bool) -> dict[str, np.ndarray]:
    """Every image as one uint8 array per split ([N, H, W] grey, [N, H, W, 3] RGB)."""
    items = [(split, path, label) for split, entries in listing.files.items()
             for path, label in entries]
    bar = None
    if progress and len(items) > 1000:
        from tqdm import tqdm  # lazy: only a long decode needs it

        bar = tqdm(total=len(items), desc="decoding images", unit="img", file=sys.stderr,
                   leave=False)
    label_type = np.min_scalar_type(max(len(listing.class_names) - 1, 0))
    images: dict[str, list[np.ndarray]] = {split: [] for split in listing.files}
    first: tuple[Path, tuple[int, ...]] | None = None
    for split, path, _ in items:
        array = _decode(path, mode, size)
        if first is None:
            first = (path, array.shape)
        elif array.shape != first[1]:
            (h, w), (fh, fw) = array.shape[:2], first[1][:2]
            raise DataError(f"{path}: image is {w}x{h}, but {first[0]} is {fw}x{fh}; set "
                            "dataset.size=N to resize every image to NxN")
        images[split].append(array)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    out = {}
    for split, entries in listing.files.items():
        out[f"{split}_images"] = np.stack(images[split])
        out[f"{split}_labels"] = np.array([label for _, label in entries], dtype=label_type)
    return out


def _statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the training images (a constant channel keeps std 1)."""
    axes = tuple(range(3))
    pixels = images if images.ndim == 4 else images[..., None]
    mean = pixels.mean(axis=axes, dtype=np.float64)
    std = pixels.std(axis=axes, dtype=np.float64)
    return mean, np.where(std > 0, std, 1.0)


def _cache_paths(listing: Listing, name: str) -> list[Path]:
    return [listing.root / CACHE_DIR / name, default_cache_dir("imagefolder") / name]


def cache_key(listing: Listing, mode: str, size: int) -> str:
    """``content_key``, remembered under the listing's signature so unchanged files are
    not read again."""
    memo = hashlib.sha256(f"{_FORMAT}\0{mode}\0{size}\0{listing.signature}".encode()).hexdigest()
    paths = _cache_paths(listing, f"files-{memo[:40]}.key")
    for path in paths:
        try:
            key = path.read_text().strip()
        except OSError:
            continue
        if len(key) == 64 and all(c in "0123456789abcdef" for c in key):
            return key
    key = content_key(listing, mode, size)
    _write_cache(paths, lambda out: out.write(key.encode()))
    return key


def _read_cache(paths: list[Path], listing: Listing) -> dict[str, np.ndarray] | None:
    wanted = [f"{s}_{a}" for s in listing.files for a in ("images", "labels")] + ["mean", "std"]
    for path in paths:
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in wanted}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            continue  # damaged: decode again and overwrite it
        return arrays
    return None


def _write_cache(paths: list[Path], write) -> None:
    """``write(file)`` into the first of ``paths`` that can be written, atomically."""
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    write(out)
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            return
        except OSError:
            continue  # a read-only data folder: try zoo's cache folder
    # Nowhere writable: the data is still loaded, only the next load decodes again.


def load_imagefolder(data_dir: str | Path | None = None, *, mode: str = "rgb", size: int = 0,
                     val_fraction: float = 0.1, split_seed: int = 0, augment: str = "none",
                     progress: bool = True) -> ImageDataset:
    """Load ROOT (``data_dir``) as described in this module's docstring.

    ``mode`` is ``"rgb"`` or ``"grayscale"``; ``size`` > 0 resizes every image to
    size x size (bilinear), 0 keeps them as they are (then all must have one size).  Without
    ROOT/val/, ``val_fraction`` of the training images (chosen with ``split_seed``) are
    held out.  ``mean`` and ``std`` are measured on all of ROOT/train.
    """
    if data_dir is None or str(data_dir) == "":
        raise DataError("imagefolder needs --data-dir ROOT: a folder with ROOT/train/<class>/ "
                        "and ROOT/test/<class>/ image folders")
    if mode not in MODES:
        raise DataError(f"imagefolder: unknown mode '{mode}' (choose from {', '.join(MODES)})")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise DataError(f"imagefolder: size must be a non-negative integer, got {size!r}")
    fraction = check_split_settings(val_fraction, split_seed)
    check_augment(augment)
    listing = scan(Path(data_dir).expanduser())
    paths = _cache_paths(listing, f"imagefolder-{cache_key(listing, mode, size)[:40]}.npz")
    arrays = _read_cache(paths, listing)
    if arrays is None:
        arrays = decode(listing, mode, size, progress)
        arrays["mean"], arrays["std"] = _statistics(arrays["train_images"])
        _write_cache(paths, lambda out: np.savez(out, **arrays))
    train = Split(arrays["train_images"], arrays["train_labels"])
    test = Split(arrays["test_images"], arrays["test_labels"])
    if "val" in listing.files:
        val = Split(arrays["val_images"], arrays["val_labels"])
    else:
        train, val = carve_val(listing.root / "train", train, fraction, split_seed)
    root = listing.root.absolute()
    return ImageDataset(train, val, test, source=f"imagefolder:{root}", data_dir=str(root),
                        class_names=listing.class_names,
                        mean=tuple(float(v) for v in arrays["mean"]),
                        std=tuple(float(v) for v in arrays["std"]), augment=augment)
