"""Opening image and array files header first: sizes are checked before anything is decoded.

A 30000x30000 PNG is a few hundred kilobytes and 2.7 GB once decoded; a ``.npy`` header
may claim 2^45 elements.  Both are refused from their headers, in one line naming the
file, before a byte of pixels is decoded or allocated.  Pillow's own guard
(``DecompressionBombWarning``, two lines on the terminal, then an error at twice its
limit) is replaced by this one limit, which is lower than Pillow's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from zoo.errors import DataError, one_line

# 64 megapixels (8192x8192): far beyond any image a classifier here trains on, and about
# 200 MB as RGB, so one refused file never costs the machine its memory.
MAX_PIXELS = 8192 * 8192
# Elements of one .npy input: 2^27 (134 million) is 2,000 Fashion-MNIST test sets.
MAX_ARRAY_ELEMENTS = 2 ** 27


@contextmanager
def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> Iterator:
    """The Pillow image of ``path``, opened but not decoded, whose size is checked.

    Everything Pillow raises for a file that is no image, truncated or too large becomes
    a DataError naming ``path``; no Pillow warning reaches the terminal.
    """
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pillows_limit = Image.MAX_IMAGE_PIXELS
        try:
            # Pillow's check would raise before the size can be named; zoo's own follows.
            Image.MAX_IMAGE_PIXELS = None
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = pillows_limit
            with image:
                width, height = image.size
                if width * height > max_pixels:
                    raise DataError(f"{path}: image is {width}x{height} pixels, more than zoo decodes "
                                    f"({max_pixels:,} pixels); shrink it first")
                yield image
        except UnidentifiedImageError:
            raise DataError(f"{path}: cannot read image (not an image Pillow can read)") from None
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt files
            raise DataError(f"{path}: cannot read image ({one_line(exc)})") from None


def load_npy(path: Path, max_elements: int = MAX_ARRAY_ELEMENTS) -> np.ndarray:
    """The array in ``path`` (never a pickle), after its header's shape and dtype were
    checked against the limit and the file's real size."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0  # 3.0 differs only in the header's encoding
            shape, _, dtype = read(handle)
            offset = handle.tell()
            size = handle.seek(0, 2)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({one_line(exc)})") from None
    count = int(np.prod(shape, dtype=object))
    if count > max_elements:
        raise DataError(f"{path}: the array's header claims shape {list(shape)} ({count:,} values), "
                        f"more than zoo reads ({max_elements:,})")
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects (a pickle), which zoo never loads")
    if size - offset < count * dtype.itemsize:
        raise DataError(f"{path}: truncated .npy array (its header claims {count * dtype.itemsize:,} "
                        f"bytes of data, the file holds {size - offset:,})")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({one_line(exc)})") from None
