"""``zoo predict``'s inputs: image files, folders, ``.npy`` arrays and IDX files -> pixels.

Every input becomes uint8-range pixels ``[C, H, W]`` of exactly the export's input
shape, as the training images were: nothing is resized or converted unless asked
(``adapt``), so a wrong size or channel count is an error naming the file rather than
a silently distorted prediction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.idx import IMAGES_MAGIC, read_file_bytes, read_idx_images
from zoo.data.image_files import load_npy, open_image
from zoo.errors import DataError, one_line
from zoo.registry import natural_key

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIX = ".npy"
WHAT = "PNG or JPEG images, .npy arrays or IDX image files"
# Pillow modes by channel count; "1" (bilevel) and "P" (palette) are expanded first.
MODES = {1: "L", 3: "RGB"}
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # 16-bit grey PNGs open as one of these


@dataclass(frozen=True)
class Item:
    name: str  # the file, with [i] for the i-th image of an array or IDX file
    pixels: np.ndarray  # float32 [C, H, W], 0..255


def read_inputs(paths: list[Path], shape: tuple[int, int, int], adapt: bool = False) -> list[Item]:
    items: list[Item] = []
    for path in paths:
        if path.is_dir():
            files = sorted((p for p in path.iterdir() if p.is_file() and _looks_usable(p)),
                           key=lambda p: natural_key(p.name))
            if not files:
                raise DataError(f"{path}: the folder holds no {WHAT}")
            for file in files:
                items.extend(_read_file(file, shape, adapt))
        elif path.is_file():
            items.extend(_read_file(path, shape, adapt))
        else:
            raise DataError(f"{path}: no such file or folder")
    return items


def _looks_usable(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(IMAGE_SUFFIXES + (ARRAY_SUFFIX,)) or "idx3-ubyte" in name


def _read_file(path: Path, shape, adapt: bool) -> list[Item]:
    if path.suffix.lower() == ARRAY_SUFFIX:
        images, what = _read_npy(path), "array"
    elif path.suffix.lower() not in IMAGE_SUFFIXES and _is_idx_images(path):
        images, what = read_idx_images(path), "IDX file"
    else:
        image = _eight_bit(_read_image(path, shape, adapt), adapt, str(path))
        return [Item(str(path), _fit(image, shape, adapt, str(path)))]
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:  # [N, H, W]: grey images, as in an IDX file
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise DataError(f"{path}: expected an {what} of images [H, W], [N, H, W] or [N, H, W, C], "
                        f"got shape {list(images.shape)}")
    many = len(images) > 1 or what == "IDX file"
    return [Item(f"{path}[{i}]" if many else str(path),
                 _fit(image, shape, adapt, f"{path}[{i}]" if many else str(path)))
            for i, image in enumerate(images)]


def _is_idx_images(path: Path) -> bool:
    try:
        head = read_file_bytes(path)[:4]
    except DataError:
        return False
    return int.from_bytes(head, "big") == IMAGES_MAGIC if len(head) == 4 else False


def _read_npy(path: Path) -> np.ndarray:
    array = load_npy(path)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataError(f"{path}: holds {array.dtype} values, expected pixel values 0..255")
    if array.size and (not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 255):
        raise DataError(f"{path}: values must be pixels in 0..255 (found {array.min()}..{array.max()})")
    return array


def _read_image(path: Path, shape, adapt: bool) -> np.ndarray:
    """HWC pixels of an image file; grey and RGB(A) as they are, palettes expanded.

    Its size is checked from the header first: without ``adapt`` it must be the model's,
    so a wrong or huge file is refused before it is decoded."""
    with open_image(path) as image:
        width, height = image.size
        if not adapt and (height, width) != tuple(shape[1:]):
            raise DataError(f"{path}: is {width}x{height} pixels, the model takes "
                            f"{shape[2]}x{shape[1]} (--adapt resizes)")
        try:
            image.load()
            if image.mode == "1":
                image = image.convert("L")
            elif image.mode == "P":
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            elif image.mode not in ("L", "LA", "RGB", "RGBA", *SIXTEEN_BIT):
                raise DataError(f"{path}: image mode {image.mode} is not supported "
                                f"(use 8-bit grey or RGB)")
            array = np.asarray(image)
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt files
            raise DataError(f"{path}: cannot read the image ({one_line(exc)})") from None
    return array[..., None] if array.ndim == 2 else array


def _eight_bit(image: np.ndarray, adapt: bool, name: str) -> np.ndarray:
    """A 16-bit image's pixels on training's 0..255 scale, when asked (``adapt``)."""
    if image.dtype == np.uint8:
        return image
    if not adapt:
        raise DataError(f"{name}: has 16-bit pixels, the model takes 8-bit ones "
                        f"(--adapt scales 0..65535 to 0..255)")
    return np.rint(image.astype(np.float64) * (255 / 65535)).clip(0, 255).astype(np.uint8)


def _fit(image: np.ndarray, shape, adapt: bool, name: str) -> np.ndarray:
    """``[H, W, C]`` pixels -> float32 ``[C, H, W]`` of ``shape``, or an error naming ``name``."""
    channels, height, width = shape
    h, w, c = image.shape
    if adapt and (c != channels or (h, w) != (height, width)):
        image = _adapted(image, shape, name)
        h, w, c = image.shape
    if c != channels:
        raise DataError(f"{name}: has {c} channel{'s' if c != 1 else ''}, the model takes "
                        f"{channels} (--adapt converts grey and RGB)")
    if (h, w) != (height, width):
        raise DataError(f"{name}: is {w}x{h} pixels, the model takes {width}x{height} "
                        f"(--adapt resizes)")
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)


def _adapted(image: np.ndarray, shape, name: str) -> np.ndarray:
    from PIL import Image

    channels, height, width = shape
    if channels not in MODES:
        raise DataError(f"{name}: --adapt converts to grey or RGB only; the model takes {channels} channels")
    source = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}.get(image.shape[2])
    if source is None:
        raise DataError(f"{name}: has {image.shape[2]} channels; --adapt converts grey and RGB(A)")
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels[..., 0] if source == "L" else pixels, source)
    picture = picture.convert(MODES[channels]).resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(picture)
    return array[..., None] if array.ndim == 2 else array


class _NamedBytes(io.BytesIO):
    """Bytes that read like a file and print as ``name`` in decode errors."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.label = name

    def __str__(self) -> str:
        return self.label


def decode_image(data: bytes, name: str, shape, adapt: bool = False) -> np.ndarray:
    """An image sent over the network (``zoo serve``'s classify) -> float32 ``[C, H, W]``,
    decoded and checked exactly as an image file is.  Only PNG and JPEG, told by their
    first bytes: no other of Pillow's decoders is exposed to the network."""
    if not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        raise DataError(f"{name}: not a PNG or JPEG image")
    image = _eight_bit(_read_image(_NamedBytes(data, name), shape, adapt), adapt, name)
    return _fit(image, shape, adapt, name)
