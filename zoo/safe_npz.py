"""Reading an uncompressed ``.npz`` without trusting it: no pickle, and no allocation
larger than the file can back.

A checksum only proves the file is the one the manifest describes, not that its
headers are honest: a header declaring a huge shape would make numpy allocate it
before noticing the data is missing. Here a member's declared size must equal the
bytes it holds, and those cannot exceed the file, so nothing bigger is ever allocated.
Checkpoints (``zoo.checkpoint``) read their ``arrays.npz`` through it.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20


def read_npz(npz: Path, load: bool) -> dict[str, np.ndarray]:
    """Check every member's .npy header against its size; with ``load``, also read the arrays.

    Raises OSError, ValueError (malformed or dishonest headers, ours and numpy's, object
    arrays), EOFError, zipfile.BadZipFile or MemoryError for a file that is not sound.
    """
    limit = npz.stat().st_size
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(npz) as zf:
        for info in zf.infolist():
            with zf.open(info) as member:
                dtype, shape, fortran, nbytes = _npy_header(npz.name, info, member, limit)
                if load:
                    arrays[info.filename[:-len(".npy")]] = _npy_data(member, dtype, shape, fortran, nbytes)
    return arrays


def _npy_header(file: str, info: zipfile.ZipInfo, member, limit: int) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    name = info.filename
    if not name.endswith(".npy"):
        raise ValueError(f"{file} member {name!r} is not a .npy array")
    # save_checkpoint stores members uncompressed: a stored member cannot claim to be
    # larger than the file around it, which bounds every allocation below.
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise ValueError(f"{name} is compressed (zoo stores arrays uncompressed)")
    if info.file_size > limit:
        raise ValueError(f"{name} claims {info.file_size} bytes, more than the {limit}-byte file")
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"{name} has unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ValueError(f"{name} holds Python objects, which would need pickle")
    nbytes = info.file_size - member.tell()
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if declared != nbytes:
        raise ValueError(f"{name} header declares shape {shape} of {dtype} ({declared} bytes) "
                         f"but holds {nbytes} bytes of data")
    return dtype, shape, fortran, nbytes


def _npy_data(member, dtype: np.dtype, shape: tuple[int, ...], fortran: bool, nbytes: int) -> np.ndarray:
    if dtype.itemsize == 0:  # nothing to read; a buffer cannot be viewed as a 0-byte dtype
        return np.empty(shape, dtype, order="F" if fortran else "C")
    buffer = np.empty(nbytes, np.uint8)
    view, done = memoryview(buffer), 0
    while done < nbytes:
        # In slices: a zip member's readinto reads into a temporary bytes of the full size.
        got = member.readinto(view[done:done + _CHUNK])
        if not got:
            raise ValueError(f"member data ends after {done} of {nbytes} bytes")
        done += got
    return buffer.view(dtype).reshape(shape, order="F" if fortran else "C")
