"""Find a dataset's folder and the files in it; download only into zoo's cache."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from zoo.data.download import MNIST_FILES, download_files, mnist_url
from zoo.errors import DataError

DATA_DIR_ENV = "ZOO_DATA_DIR"
SEED_FILE = "mnist.json.gz"
# Role -> accepted base names, each tried with ".gz" first, then uncompressed.
# The dotted spelling is how some mirrors (e.g. Kaggle) name the same files.
IDX_ROLES: dict[str, tuple[str, ...]] = {
    "train-images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train-labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "t10k-images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "t10k-labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def default_cache_dir(name: str = "mnist") -> Path:
    """``$XDG_CACHE_HOME/zoo/NAME``, defaulting to ``~/.cache/zoo/NAME``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore a relative value.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "zoo" / name


def resolve_data_dir(explicit: str | Path | None) -> Path:
    """The data directory: ``explicit``, else ``$ZOO_DATA_DIR``, else the cache dir."""
    return _resolve(explicit)[0]


def _resolve(explicit: str | Path | None) -> tuple[Path, bool]:
    """Return (directory, whether the user named it)."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser(), True
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser(), True
    return default_cache_dir(), False


def find_mnist_files(directory: str | Path, label: str = "MNIST",
                     seed_format: bool = True) -> dict[str, Path]:
    """Map roles to files in ``directory``.

    Returns the four IDX roles (``train-images``, ``train-labels``, ``t10k-images``,
    ``t10k-labels``) when all are present (preferred), else ``{"seed": path}`` for a
    seed-format ``mnist.json.gz`` (when ``seed_format``). Raises DataError naming what
    is missing; ``label`` names the dataset (Fashion-MNIST has MNIST's file names).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: data directory does not exist")
    found, missing = _scan(directory, seed_format)
    if found is not None:
        return found
    seed = f" (or a seed-format {SEED_FILE})" if seed_format else ""
    raise DataError(
        f"{directory}: no {label} data, missing {', '.join(missing)}{seed}; "
        "put the files there or point --data-dir elsewhere"
    )


def locate_cached(explicit: str | Path | None, cache_name: str, label: str,
                  complete: Callable[[Path], bool], fetch: Callable[[Path], None],
                  download: bool) -> Path:
    """The folder to load a dataset from: ``explicit`` as given (never written to), else
    zoo's cache ``cache_name``, filled by ``fetch(cache)`` when it is not ``complete``."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    cache = default_cache_dir(cache_name)
    if cache.is_dir() and complete(cache):
        return cache
    if not download:
        raise DataError(f"{cache}: no {label} files in the cache and downloading is disabled; "
                        "put them there, or pass --data-dir")
    fetch(cache)
    return cache


class MnistUnavailable(DataError):
    """No data folder was named, and MNIST is neither in the cache nor downloadable.

    Its own type because only this case may fall back to the packaged sample: a folder
    the user named, or files that exist but are broken, must stay errors.
    """


def locate_mnist(
    explicit: str | Path | None, download: bool = True, progress: bool = True
) -> dict[str, Path]:
    """Resolve the data directory and return its files, downloading into the cache only.

    A directory the user named (argument or ``$ZOO_DATA_DIR``) is never written to.
    """
    directory, from_user = _resolve(explicit)
    if from_user or (directory.is_dir() and _scan(directory, True)[0] is not None):
        return find_mnist_files(directory)
    if not download:
        raise MnistUnavailable(
            f"{directory}: no MNIST files in the cache and downloading is disabled; "
            f"put the {len(MNIST_FILES)} files ({', '.join(MNIST_FILES)}) there, or pass --data-dir"
        )
    try:
        download_files(directory, mnist_url(), MNIST_FILES, progress=progress)
    except DataError as exc:
        raise MnistUnavailable(str(exc)) from None
    return find_mnist_files(directory)


def idx_complete(directory: Path) -> bool:
    """Whether ``directory`` holds all four IDX files."""
    return _scan(directory, False)[0] is not None


def _scan(directory: Path, seed_format: bool) -> tuple[dict[str, Path] | None, list[str]]:
    """Return (files, []) when a complete set exists, else (None, missing IDX names)."""
    idx: dict[str, Path] = {}
    missing: list[str] = []
    for role, bases in IDX_ROLES.items():
        candidates = [directory / (base + ext) for base in bases for ext in (".gz", "")]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(bases[0] + "[.gz]")
        else:
            idx[role] = path
    if not missing:
        return idx, []
    if seed_format and (directory / SEED_FILE).is_file():
        return {"seed": directory / SEED_FILE}, []
    return None, missing
