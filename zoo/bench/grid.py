"""Grid expansion: the default grid, a grid file and command-line axes become Cells.

A Cell is one combination with its settings and, once the preflight has resolved the
data, its result identity (``zoo.identity``); its ``key`` identifies results in the
store, so changing anything that changes the numbers (epochs, a parameter, a default in
registry.toml, the data, a plugin's version) gives new keys rather than silently showing
old numbers for new settings.
"""

from __future__ import annotations

import hashlib
import json
import itertools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import kinds
from zoo.config import GRID_SCHEMA, MAX_SEED, check_table, tomllib
from zoo.errors import ConfigError, RegistryError, one_line
from zoo.job import Job, RunSettings, parse_sets, without_old_defaults

if TYPE_CHECKING:
    from zoo.bench.sweep import SweepSpec
    from zoo.plugin.facade import Catalog

# A cell's folder name stays far below the 255 bytes file systems allow: the axes' part is
# cut at MAX_SLUG_AXES (the whole key then keeps it unique), the whole at MAX_SLUG.
MAX_SLUG_AXES, MAX_SLUG = 120, 160
GRID_FILE_SCHEMA = {**GRID_SCHEMA, "set": list, "repeat": int, "target_acc": float,
                    "limit_train": int, "description": str, "search": str, "trials": int}


@dataclass(frozen=True, kw_only=True)
class Cell(RunSettings):
    """One combination of the grid: an entry per swept kind (zoo.kinds), the settings
    every cell of a sweep shares, its seed, and its identity (``with_identities()``)."""

    nprocs: int
    identity: dict[str, Any] = field(default_factory=dict)
    # The grid's varied axes (zoo.bench.axes) as this cell takes them: (name, value text).
    # Only its folder name shows them; the values themselves are in params and epochs...
    axes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def entry_kinds(cls) -> tuple[kinds.Kind, ...]:
        return kinds.swept()

    @property
    def combination(self) -> tuple:
        """What a table row stands for (device and seed are columns and repeats)."""
        return (*self.names.values(), self.nprocs)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.pop("axes")  # no setting: the values it names are in the other fields
        return data

    @property
    def key(self) -> str:
        """Stable id of everything that decides the result except the seed."""
        data = without_old_defaults({k: v for k, v in self.to_dict().items() if k != "seed"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def slug(self) -> str:
        """The cell's folder name: readable, and unique through its axes' values and the
        key's head (the whole key when the axes had to be cut to keep the name short)."""
        from zoo.bench.axes import label

        entries = [name for kind, name in self.names.items() if kind != "launchers"]
        threads = [f"t{self.threads}"] if self.threads != 1 else []
        limit = [f"n{self.limit_train}"] if self.limit_train is not None else []
        head = "-".join([*entries, f"{self.launch}{self.nprocs}", self.device.replace(":", ""),
                         *threads, *limit])
        axes = "".join(f"-{label(name, text)}" for name, text in self.axes)
        if axes and len(head) + len(axes) > MAX_SLUG_AXES:
            return f"{head}{axes[:MAX_SLUG_AXES - len(head)]}-s{self.seed}-{self.key}"[-MAX_SLUG:]
        return f"{head}{axes}-s{self.seed}-{self.key[:6]}"

    def job(self, out: Path, data_dir: str | None, registry_file: str | None,
            checkpoint_every: int) -> Job:
        trained = {kind.name: self.entries[kind.name] for kind in kinds.trained()}
        # Workers run in their cell's folder: a relative path would name another place.
        folder, data_dir, registry_file = (None if p is None else os.path.abspath(os.path.expanduser(p))
                                           for p in (out, data_dir, registry_file))
        # A worker never draws a download bar: the preflight already resolved the data.
        params = {**self.params, "datasets": {**self.params.get("datasets", {}), "progress": False}}
        return Job(out=str(folder), entries=trained, params=params, data_dir=data_dir, epochs=self.epochs,
                   batch_size=self.batch_size, seed=self.seed, device=self.device,
                   registry_file=registry_file, checkpoint_every=checkpoint_every,
                   target_acc=self.target_acc, threads=self.threads, limit_train=self.limit_train)


def load_grid_file(path: Path) -> dict[str, Any]:
    """A named grid (benchmarks/*.toml): a [grid] table with any subset of the keys, and
    optionally a [data_dirs] table (returned under "data_dirs", folders made absolute)
    and a [space] table of axes (under "space", zoo.bench.space)."""
    from zoo.bench.data_dirs import grid_file_table
    from zoo.bench.space import parse_space

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: grid file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read grid file: {one_line(exc)}") from None
    tables = {"grid", "data_dirs", "space"}
    if set(data) - tables:
        raise ConfigError(f"{path}: unknown key '{sorted(set(data) - tables)[0]}' "
                          f"(expected [grid] and optionally [data_dirs] and [space])")
    grid = dict(data.get("grid", {}))
    if isinstance(grid.get("target_acc"), int):
        grid["target_acc"] = float(grid["target_acc"])
    grid = check_table(f"{path}: grid", grid, GRID_FILE_SCHEMA, False)
    if "data_dirs" in data:
        grid["data_dirs"] = grid_file_table(path, data["data_dirs"])
    if "space" in data:
        grid["space"] = parse_space(f"{path}: space", data["space"])
    return grid


def with_identities(catalog: Catalog, cells: list[Cell], fingerprints: dict[str, str]) -> list[Cell]:
    """Cells carrying their result identity; ``fingerprints`` by ``data_key`` of the cell."""
    from zoo.bench.preflight import data_key
    from zoo.identity import identity

    return [replace(c, identity=identity(catalog, c.names, c.params,
                                         fingerprints[data_key(c.dataset, c.params.get("datasets"))]))
            for c in cells]


def split_list(value: str | None) -> list[str] | None:
    """'cnn, mlp' -> ['cnn', 'mlp']; None stays None (take it from the grid)."""
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    if not items:
        raise ConfigError(f"empty list '{value}'")
    return items


def expand(catalog: Catalog, spec: SweepSpec) -> list[Cell]:
    """Every combination of the spec's selections (names and globs), times the repeats."""
    chosen = selected(catalog, spec)
    from zoo.bench.axes import split_sets, variants

    singles, axes = split_sets(catalog, parse_sets(list(spec.sets)), chosen, spec.space)
    params = _checked_sets(catalog, singles, chosen)
    devices = list(dict.fromkeys(d.strip().lower() for d in spec.devices))
    if spec.seed + spec.repeat - 1 > MAX_SEED:
        raise ConfigError(f"seed {spec.seed} with repeat {spec.repeat} goes past the largest "
                          f"seed {MAX_SEED}")
    launcher_sets = {"launchers": params["launchers"]} if "launchers" in params else {}
    one_process = {name for name in chosen["launchers"] if catalog.build(
        "launchers", name, _params_for(catalog, launcher_sets, {"launchers": name}).get("launchers")
    ).max_nprocs == 1}
    cells = []
    for names in itertools.product(*chosen.values()):
        entries = dict(zip(chosen, names))
        # A one-process launcher is every grid's single-process baseline, whatever --nprocs.
        nprocs = 1 if entries["launchers"] in one_process else spec.nprocs
        fixed = _params_for(catalog, params, entries)
        for varied, shared, labels in variants(catalog, axes, entries):
            mine = {kind: {**fixed.get(kind, {}), **varied.get(kind, {})}
                    for kind in {**fixed, **varied}}
            for device, offset in itertools.product(devices, range(spec.repeat)):
                cells.append(Cell(entries=entries, nprocs=nprocs, device=device,
                                  epochs=shared.get("epochs", spec.epochs),
                                  batch_size=shared.get("batch_size", spec.batch_size),
                                  seed=spec.seed + offset, params=mine, axes=labels,
                                  target_acc=spec.target_acc, limit_train=spec.limit_train))
    return cells


def selected(catalog: Catalog, spec: SweepSpec) -> dict[str, list[str]]:
    """The entries each swept kind's names and globs select, by kind."""
    chosen = {}
    for kind in kinds.swept():
        assert kind.axis is not None  # what makes a kind swept
        try:
            chosen[kind.name] = catalog.registry.select(kind.name, list(spec.selections[kind.axis]))
        except RegistryError as exc:
            raise ConfigError(f"{kind.flag}: {exc}") from None
    return chosen


def _checked_sets(catalog: Catalog, params: dict, chosen: dict) -> dict:
    """A ``--set kind.key`` must fit at least one selected entry of its kind, and every
    entry that has the key must accept the value: a typo fails before anything runs."""
    for kind, values in params.items():
        names = chosen[kind]
        for key, value in values.items():
            takers = [n for n in names if key in catalog.entry(kind, n).defaults]
            if not takers:
                raise ConfigError(f"--set {kinds.get(kind).singular}.{key}: no selected "
                                  f"{kinds.get(kind).singular} has a parameter '{key}' "
                                  f"({', '.join(names)})")
            for name in takers:
                catalog.params(kind, name, {key: value})
    return params


def _params_for(catalog: Catalog, params: dict, names: dict[str, str]) -> dict:
    """The part of the --set values that applies to this cell's entries.

    ``--set optimizer.momentum=0.8`` over sgd and momentum changes the momentum cells
    only; an sgd cell keeps the key (and so the stored results) of a run without it."""
    mine = {}
    for kind, values in params.items():
        defaults = catalog.entry(kind, names[kind]).defaults
        applicable = {k: v for k, v in values.items() if k in defaults}
        if applicable:
            mine[kind] = applicable
    return mine

