"""A user's own images: ``ROOT/train/<class>/*.png|jpg``, ``ROOT/test/<class>/*`` and an
optional ``ROOT/val/<class>/*``.

Every image's header is read first (its size and colour mode), so a wrong or huge file
is refused before anything is decoded; then the images are decoded once with Pillow
into uint8 arrays and cached in zoo's cache folder (``zoo.data.imagefolder_cache``),
never in ROOT, which may be read-only.  ``mode="auto"`` keeps grey images grey (one
channel) and colour images RGB; a folder mixing both is read as RGB, since grey
converts to RGB without loss and not the other way.  Names starting with a dot are
skipped (.DS_Store...).
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data import imagefolder_cache as cache
from zoo.data.image_files import open_image
from zoo.data.splits import ImageDataset, Split, carve_val, check_split_settings
from zoo.data.transform import check_augment
from zoo.errors import DataError, one_line

EXTENSIONS = (".png", ".jpg", ".jpeg")
MODES = ("auto", "rgb", "grayscale")
SPLITS = ("train", "val", "test")
# Pillow modes read as one channel by mode=auto (and by zoo predict): grey, with or
# without alpha, 1-bit and 16/32-bit grey.
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


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


def _is_dir(entry: os.DirEntry, path: Path) -> bool:
    """Whether ``entry`` is a folder; a link that leads nowhere (a loop, a missing target)
    is a DataError naming it, not a silent skip or an OSError."""
    try:
        if entry.is_symlink():
            os.stat(path)  # follows the link: ELOOP or ENOENT here
        return entry.is_dir()
    except OSError as exc:
        raise DataError(f"{path}: a symbolic link that leads nowhere ({exc.strerror or exc})") from None


def _class_files(class_dir: Path) -> list[os.DirEntry]:
    files = []
    for entry in _visible(class_dir):
        path = class_dir / entry.name
        if _is_dir(entry, path):
            raise DataError(f"{path}: a folder inside a class folder (class folders hold image "
                            "files only)")
        if path.suffix.lower() not in EXTENSIONS:
            raise DataError(f"{path}: unknown image extension '{path.suffix}' (imagefolder reads "
                            f"{', '.join(EXTENSIONS)})")
        files.append(entry)
    if not files:
        raise DataError(f"{class_dir}: empty class (no {', '.join(EXTENSIONS)} images)")
    return files


def _class_name(path: Path) -> str:
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:  # class names are shown, stored and exported as text
        raise DataError(f"{path}: a class folder name must be valid UTF-8 (it becomes the class "
                        "name); rename it") from None
    return path.name


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
            if not _is_dir(entry, folder / entry.name):
                raise DataError(f"{folder / entry.name}: images go in class folders "
                                f"({folder}/<class>/{entry.name})")
        if not entries:
            raise DataError(f"{folder}: no class folders")
        if split == "train":
            labels = {_class_name(folder / entry.name): i for i, entry in enumerate(entries)}
        files[split] = []
        for class_entry in entries:
            class_dir = folder / class_entry.name
            if class_entry.name not in labels:
                raise DataError(f"{class_dir}: class '{class_entry.name}' has no training folder "
                                f"{root / 'train' / class_entry.name}")
            label = labels[class_entry.name]
            for entry in _class_files(class_dir):
                try:
                    st = entry.stat()
                except OSError as exc:
                    raise DataError(f"{class_dir / entry.name}: cannot read file "
                                    f"({exc.strerror or exc})") from None
                # surrogateescape: a file name that is not UTF-8 is hashed as its bytes.
                signature.update(f"{split}/{class_entry.name}/{entry.name}\0{label}\0{st.st_size}\0"
                                 f"{st.st_ino}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0"
                                 .encode("utf-8", "surrogateescape"))
                files[split].append((class_dir / entry.name, label))
    return Listing(root, tuple(labels), files, signature.hexdigest())


def check_headers(listing: Listing, mode: str, size: int) -> str:
    """Read every image's header (nothing is decoded): refuse a file Pillow cannot open,
    one too large to decode, or (without ``size``) one whose size differs from the
    first's; return the mode to decode with (``auto`` resolved)."""
    first: tuple[Path, tuple[int, int]] | None = None
    grey = True
    for items in listing.files.values():
        for path, _ in items:
            with open_image(path) as image:
                grey = grey and image.mode in GREY_MODES
                if size:
                    continue
                if first is None:
                    first = (path, image.size)
                elif image.size != first[1]:
                    (w, h), (fw, fh) = image.size, first[1]
                    raise DataError(f"{path}: image is {w}x{h}, but {first[0]} is {fw}x{fh}; set "
                                    "dataset.size=N to resize every image to NxN")
    if mode == "auto":
        return "grayscale" if grey else "rgb"
    return mode


def _decode(path: Path, mode: str, size: int) -> np.ndarray:
    from PIL import Image

    with open_image(path) as image:
        try:
            image = image.convert("RGB" if mode == "rgb" else "L")
            if size:
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as exc:
            # Truncated files fail here, when the pixels are read.
            raise DataError(f"{path}: cannot read image ({one_line(exc)})") from None


def decode(listing: Listing, mode: str, size: int, progress: bool) -> dict[str, np.ndarray]:
    """Every image as one uint8 array per split ([N, H, W] grey, [N, H, W, 3] RGB), after
    ``check_headers``; ``mode`` is rgb or grayscale."""
    items = [(split, path, label) for split, entries in listing.files.items()
             for path, label in entries]
    bar = None
    if progress and len(items) > 1000:
        from tqdm import tqdm  # lazy: only a long decode needs it

        bar = tqdm(total=len(items), desc="decoding images", unit="img", file=sys.stderr,
                   leave=False)
    label_type = np.min_scalar_type(max(len(listing.class_names) - 1, 0))
    images: dict[str, list[np.ndarray]] = {split: [] for split in listing.files}
    for split, path, _ in items:
        images[split].append(_decode(path, mode, size))
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


def load_imagefolder(data_dir: str | Path | None = None, *, mode: str = "auto", size: int = 0,
                     val_fraction: float = 0.1, split_seed: int = 0, augment: str = "none",
                     progress: bool = True) -> ImageDataset:
    """Load ROOT (``data_dir``) as described in this module's docstring.

    ``mode`` is ``"auto"`` (grey stays grey, anything else RGB), ``"rgb"`` or
    ``"grayscale"``; ``size`` > 0 resizes every image to size x size (bilinear), 0 keeps
    them as they are (then all must have one size).  Without ROOT/val/, ``val_fraction``
    of the training images (chosen with ``split_seed``) are held out.  ``mean`` and
    ``std`` are measured on all of ROOT/train.
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
    key = cache.cache_key(listing, mode, size)
    arrays = cache.read_cache(key, listing, mode, size)
    if arrays is None:
        arrays = decode(listing, check_headers(listing, mode, size), size, progress)
        arrays["mean"], arrays["std"] = _statistics(arrays["train_images"])
        cache.write_cache(key, arrays)
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
