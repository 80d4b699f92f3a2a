"""A content hash of a loaded dataset: what a result was measured on, wherever the files live."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from zoo.errors import DataError

# Bump when the hashed layout changes, so old and new fingerprints can never collide.
_VERSION = "zoo-data-fingerprint/1"
_SPLITS = ("train", "val", "test")
_ARRAYS = ("images", "labels")


def fingerprint(dataset) -> str:
    """sha256 hex of the split arrays (dtype, shape, bytes), ``input_shape`` and ``num_classes``.

    It hashes what was loaded, not the files: a copy in another folder or a gunzipped
    copy gives the same value; other file content or another split (``val_fraction``,
    ``split_seed``) gives another.
    """
    digest = hashlib.sha256()
    _frame(digest, {"format": _VERSION,
                    "input_shape": [int(d) for d in dataset.input_shape],
                    "num_classes": int(dataset.num_classes)})
    for split_name in _SPLITS:
        split = getattr(dataset, split_name)
        for array_name in _ARRAYS:
            array = _canonical(np.asarray(getattr(split, array_name)), f"{split_name}.{array_name}")
            _frame(digest, {"array": f"{split_name}.{array_name}", "dtype": array.dtype.str,
                            "shape": list(array.shape)})
            # A flat byte view hashes without a copy, and also works for 0 images.
            digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _frame(digest, header: dict) -> None:
    # Length-prefixed, so no header can run into the bytes that follow it.
    text = json.dumps(header, sort_keys=True).encode()
    digest.update(len(text).to_bytes(8, "little"))
    digest.update(text)


def _canonical(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype.hasobject:
        raise DataError(f"cannot fingerprint the dataset: {name} holds Python objects, not numbers")
    # Equal values must hash equal whatever byte order or memory layout they came in.
    if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and not np.little_endian):
        array = array.astype(array.dtype.newbyteorder("<"))
    return array
