"""Download data files atomically (``zoo.atomic``): temp file in the destination, md5 check,
fsync, rename."""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from zoo.atomic import write_bytes_atomic
from zoo.errors import DataError, one_line

# The official MNIST files and their md5 sums.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DEFAULT_MNIST_URL = "https://dataset.bj.bcebos.com/mnist/"
MNIST_URL_ENV = "ZOO_MNIST_URL"
_CHUNK = 1 << 16


def mnist_url() -> str:
    """The MNIST mirror: ``$ZOO_MNIST_URL`` if set, else the default mirror."""
    return os.environ.get(MNIST_URL_ENV) or DEFAULT_MNIST_URL


def download_files(
    dest: Path,
    base_url: str,
    files: dict[str, str],
    progress: bool = True,
    timeout: float = 30,
) -> None:
    """Download each of ``files`` (name -> md5) missing from ``dest`` from ``base_url``.

    A file appears in ``dest`` only complete and verified; on any failure the
    temp file is removed and a one-line DataError says how to place the files by hand.
    """
    dest = Path(dest)
    base = base_url if base_url.endswith("/") else base_url + "/"
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dest}: cannot create data directory ({exc.strerror or exc})") from None
    for name, md5 in files.items():
        if not (dest / name).exists():
            try:
                _download_one(dest, base + name, name, md5, progress, timeout)
            except OSError as exc:  # local disk trouble: temp file, fsync or rename
                raise DataError(
                    f"{dest}: cannot write {name} ({exc.strerror or exc}); download it from "
                    f"{base} by hand and put it there, or pass --data-dir"
                ) from None
            except _Failure as exc:
                names = ", ".join(files)
                raise DataError(
                    f"{name}: download from {base + name} failed ({exc}); download the "
                    f"{len(files)} files ({names}) from {base} and put them in {dest}, "
                    "or pass --data-dir"
                ) from None


class _Failure(Exception):
    """Internal: why one download failed (turned into the user-facing DataError)."""


def _download_one(
    dest: Path, url: str, name: str, md5: str, progress: bool, timeout: float
) -> None:
    def fetch(out) -> None:
        digest = _fetch(url, out, name, progress, timeout)
        if digest != md5:
            raise _Failure(f"md5 mismatch: got {digest}, expected {md5}")

    # A temp file in dest, removed on any failure (a KeyboardInterrupt too), so an
    # aborted download leaves nothing behind; the leading dot hides it from data globs.
    write_bytes_atomic(dest / name, fetch)


def _fetch(url: str, out: Any, name: str, progress: bool, timeout: float) -> str:
    """Stream ``url`` into ``out``; return the md5 hex digest of what was received."""
    digest = hashlib.md5()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            length_header = resp.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            bar = _progress_bar(name, length) if progress else None
            try:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response socket open otherwise
        raise _Failure(f"HTTP {exc.code} {one_line(exc.reason)}") from None
    except urllib.error.URLError as exc:
        raise _Failure(one_line(exc.reason)) from None
    except ValueError as exc:  # malformed URL, e.g. a bad $ZOO_MNIST_URL
        raise _Failure(one_line(exc)) from None
    except http.client.IncompleteRead as exc:
        raise _Failure(f"transfer interrupted after {received + len(exc.partial)} bytes") from None
    except (http.client.HTTPException, OSError) as exc:
        # Timeouts, resets and disconnects mid-transfer land here.
        raise _Failure(f"transfer interrupted after {received} bytes: {one_line(exc)}") from None
    # http.client's read(n) returns b"" on an early close instead of raising,
    # so a short body has to be detected against Content-Length here.
    if length is not None and received != length:
        raise _Failure(f"transfer interrupted: received {received} of {length} bytes")
    return digest.hexdigest()


def _progress_bar(name: str, total: int | None) -> Any:
    try:
        from tqdm import tqdm  # lazy: only downloads need it
    except ImportError:
        return None
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, file=sys.stderr, leave=False)
