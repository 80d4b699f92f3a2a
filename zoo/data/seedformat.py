"""Read the course's seed format: gzip'd JSON ``[[images, labels]] * 3`` (train, valid, eval)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zoo.data.idx import read_file_bytes
from zoo.errors import DataError

PART_NAMES = ("train", "valid", "eval")
_PIXELS = 28 * 28
_TOLERANCE = 1e-4  # float noise allowed outside the detected pixel range

SeedPart = tuple[np.ndarray, np.ndarray]


def read_seed_json(path: str | Path) -> tuple[SeedPart, SeedPart, SeedPart]:
    """Read a seed-format file into three (images uint8 [N,28,28], labels uint8 [N]) pairs.

    The pixel scale is detected from the whole file (min < 0: [-1, 1];
    max <= 1: [0, 1]; otherwise [0, 255]) and mapped to 0..255 with rounding.
    """
    text = read_file_bytes(path)
    try:
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a JSON text file") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(doc, list) or len(doc) != 3:
        raise DataError(
            f"{path}: expected a JSON list of 3 [images, labels] pairs (train, valid, eval), "
            f"got {_describe(doc)}"
        )
    floats = [_part_arrays(path, name, part) for name, part in zip(PART_NAMES, doc)]
    scale = _detect_scale(path, [images for images, _ in floats])
    parts = [(_to_uint8(images, scale), labels) for images, labels in floats]
    return parts[0], parts[1], parts[2]


def _part_arrays(path: str | Path, name: str, part: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate one [images, labels] pair; images stay float64 until the scale is known."""
    if not isinstance(part, list) or len(part) != 2:
        raise DataError(
            f"{path}: {name} part must be an [images, labels] pair, got {_describe(part)}"
        )
    images_list, labels_list = part
    if not isinstance(images_list, list) or not isinstance(labels_list, list):
        raise DataError(f"{path}: {name} images and labels must be JSON lists")
    if len(images_list) != len(labels_list):
        raise DataError(
            f"{path}: {name} has {len(images_list)} images but {len(labels_list)} labels"
        )
    for i, image in enumerate(images_list):
        # Checked per image so the message can say which one is wrong.
        if not isinstance(image, list) or len(image) != _PIXELS:
            raise DataError(
                f"{path}: {name} image {i} must be a flat list of {_PIXELS} numbers, "
                f"got {_describe(image)}"
            )
    try:
        images = np.asarray(images_list, dtype=np.float64).reshape(len(images_list), _PIXELS)
        labels = np.asarray(labels_list, dtype=np.float64).reshape(len(labels_list))
    except (TypeError, ValueError):
        raise DataError(f"{path}: {name} contains non-numeric pixels or labels") from None
    if not np.isfinite(images).all():
        raise DataError(f"{path}: {name} contains NaN or infinite pixels")
    bad = (labels != np.round(labels)) | (labels < 0) | (labels > 9) | ~np.isfinite(labels)
    if bad.any():
        raise DataError(
            f"{path}: {name} labels outside 0-9 (found {labels[bad][0]:g}); expected digits 0-9"
        )
    return images, labels.astype(np.uint8)


def _detect_scale(path: str | Path, parts: list[np.ndarray]) -> str:
    non_empty = [p for p in parts if p.size]
    if not non_empty:
        return "0-255"
    lo = min(float(p.min()) for p in non_empty)
    hi = max(float(p.max()) for p in non_empty)
    if lo < 0:
        scale, (a, b) = "-1-1", (-1.0, 1.0)
    elif hi <= 1:
        scale, (a, b) = "0-1", (0.0, 1.0)
    else:
        scale, (a, b) = "0-255", (0.0, 255.0)
    if lo < a - _TOLERANCE or hi > b + _TOLERANCE:
        raise DataError(
            f"{path}: pixel values span [{lo:g}, {hi:g}], which fits none of "
            "[-1, 1], [0, 1] or [0, 255]"
        )
    return scale


def _to_uint8(images: np.ndarray, scale: str) -> np.ndarray:
    if scale == "-1-1":
        images = (images + 1.0) * 127.5
    elif scale == "0-1":
        images = images * 255.0
    # Clip only absorbs float noise within _TOLERANCE; larger excursions were rejected.
    out = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return out.reshape(len(out), 28, 28)


def _describe(value: object) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    names = {dict: "object", str: "string", bool: "boolean", int: "number", float: "number"}
    return f"a JSON {names.get(type(value), 'null')}"
