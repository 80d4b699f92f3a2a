"""Read MNIST images and labels from IDX files (gzip'd or plain)."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from zoo.errors import DataError, one_line

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"


def read_file_bytes(path: str | Path) -> bytes:
    """Return the file's content, gunzipped when it is a gzip stream.

    The format is decided by the gzip magic bytes, not the suffix, so a plain
    file is accepted under any name; a ``.gz`` name with non-gzip content is an error.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if raw[:2] != _GZIP_MAGIC:
        if path.suffix == ".gz":
            raise DataError(f"{path}: not a gzip file (named .gz but starts with {raw[:4]!r})")
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        # gzip raises EOFError for a stream cut off mid-way (e.g. an interrupted copy).
        raise DataError(f"{path}: truncated gzip stream (file is incomplete)") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip data ({one_line(exc)})") from None


def read_idx_images(path: str | Path) -> np.ndarray:
    """Read an IDX images file into a uint8 array [N, H, W] (any N, H, W)."""
    data = read_file_bytes(path)
    _check_magic(path, data, IMAGES_MAGIC, "images file", header_size=16)
    n, rows, cols = struct.unpack(">III", data[4:16])
    _check_size(path, data, 16, n * rows * cols, f"{n} images of {rows}x{cols}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols).copy()


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Read an IDX labels file into a uint8 array [N] (any N; range checked by the loader)."""
    data = read_file_bytes(path)
    _check_magic(path, data, LABELS_MAGIC, "labels file", header_size=8)
    (n,) = struct.unpack(">I", data[4:8])
    _check_size(path, data, 8, n, f"{n} labels")
    return np.frombuffer(data, dtype=np.uint8, offset=8).copy()


def _check_magic(path: str | Path, data: bytes, expected: int, kind: str, header_size: int) -> None:
    if len(data) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected:
        raise DataError(f"{path}: wrong magic number {magic}, expected {expected} ({kind})")
    if len(data) < header_size:
        raise DataError(
            f"{path}: truncated IDX header ({len(data)} bytes, expected {header_size})"
        )


def _check_size(path: str | Path, data: bytes, offset: int, expected: int, what: str) -> None:
    # Both directions are errors: too few bytes means a cut-off file, too many
    # means the header does not describe the content.
    body = len(data) - offset
    if body < expected:
        raise DataError(
            f"{path}: truncated file: header promises {what} ({expected} bytes), found {body}"
        )
    if body > expected:
        raise DataError(f"{path}: {body - expected} unexpected bytes after {what}")
