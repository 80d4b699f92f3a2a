"""Which folder each dataset of a sweep reads: ``--data-dir [NAME=]DIR`` and a grid file's
``[data_dirs]`` table, so one sweep can train on several datasets, each from its own folder.

Precedence per dataset: ``--data-dir NAME=DIR`` > the grid file's ``NAME = "DIR"`` > a bare
``--data-dir DIR`` (every dataset without a folder of its own, today's meaning) > none (the
dataset's own default: ``$ZOO_DATA_DIR``, zoo's cache, a download).  Which folder a dataset
reads is no part of a result's identity: the data's fingerprint is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zoo.errors import ConfigError, RegistryError


@dataclass(frozen=True)
class DataDirs:
    """Absolute folders: ``named`` per dataset, ``default`` for the others (or None)."""

    default: str | None = None
    named: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)  # by dataset: where it was named

    def of(self, dataset: str) -> str | None:
        return self.named.get(dataset, self.default)

    def origin(self, dataset: str) -> str:
        """How the user named ``dataset``'s folder, for messages ("" when nobody did)."""
        if dataset in self.origins:
            return self.origins[dataset]
        return f"--data-dir {self.default}" if self.default else ""


def _absolute(path: str, base: Path | None = None) -> str:
    # Cells run in their own folders: a relative path would point somewhere else there.
    expanded = Path(os.path.expanduser(path))
    return str(expanded if expanded.is_absolute() else (base or Path.cwd()) / expanded)


def split_option(value: str) -> tuple[str | None, str]:
    """``NAME=DIR`` -> (NAME, DIR); a bare ``DIR`` (also one whose '=' follows a '/') ->
    (None, DIR)."""
    name, sep, folder = value.partition("=")
    if sep and name and os.sep not in name and "/" not in name:
        return name, folder
    return None, value


def resolve_data_dirs(catalog, options: Iterable[str], table: Mapping[str, str] | None = None,
                      table_origin: str = "the grid file") -> DataDirs:
    """The sweep's folders from ``--data-dir`` values and a grid file's table (whose
    relative folders were already made absolute against the grid file's folder)."""
    default, named, origins = None, {}, {}
    for name, folder in (table or {}).items():
        named[_known(catalog, name, f"{table_origin} [data_dirs]")] = folder
        origins[name] = f"{table_origin} [data_dirs] {name}"
    # As for any option given twice, the later value wins (a bare DIR, or one NAME's DIR).
    for value in options:
        name, folder = split_option(value)
        if not folder.strip():
            raise ConfigError(f"--data-dir {value}: no folder given")
        if name is None:
            default = _absolute(folder)
            continue
        _known(catalog, name, f"--data-dir {value}")
        named[name], origins[name] = _absolute(folder), f"--data-dir {value}"
    return DataDirs(default, named, origins)


def _known(catalog, name: str, where: str) -> str:
    try:
        return catalog.entry("datasets", name).name
    except RegistryError as exc:
        raise ConfigError(f"{where}: {exc} (a folder whose name holds '=' is written ./NAME=...)") \
            from None


def grid_file_table(path: Path, table) -> dict[str, str]:
    """A grid file's ``[data_dirs]``: dataset names to folders, relative ones taken from the
    grid file's own folder (so the file means the same from any working directory)."""
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                              for k, v in table.items()):
        raise ConfigError(f"{path}: [data_dirs] must map dataset names to folders, "
                          f'e.g. imagefolder = "photos"')
    return {name: _absolute(folder, path.absolute().parent) for name, folder in table.items()}
