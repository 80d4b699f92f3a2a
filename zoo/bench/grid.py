"""Grid expansion: the default grid, a grid file and command-line axes become Cells.

A Cell is one combination with its settings; its ``key`` identifies results in the
store, so changing a setting (epochs, a parameter) gives new keys rather than silently
mixing old numbers with new ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.config import GRID_SCHEMA, check_table, tomllib
from zoo.errors import ConfigError, RegistryError, one_line
from zoo.job import Job, parse_sets

AXES = ("models", "optimizers", "schedules", "regularizers", "launchers")
GRID_FILE_SCHEMA = {**GRID_SCHEMA, "set": list, "repeat": int, "target_acc": float,
                    "description": str}


@dataclass(frozen=True)
class Cell:
    model: str
    optimizer: str
    schedule: str
    regularizer: str
    launch: str
    nprocs: int
    device: str
    dataset: str
    epochs: int
    batch_size: int
    seed: int
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_acc: float | None = None

    @property
    def combination(self) -> tuple:
        """What a table row stands for (device and seed are columns and repeats)."""
        return (self.model, self.optimizer, self.schedule, self.regularizer, self.launch, self.nprocs)

    @property
    def key(self) -> str:
        """Stable id of everything that decides the result except the seed."""
        data = {k: v for k, v in asdict(self).items() if k != "seed"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def slug(self) -> str:
        return (f"{self.model}-{self.optimizer}-{self.schedule}-{self.regularizer}-"
                f"{self.launch}{self.nprocs}-{self.device.replace(':', '')}-s{self.seed}-{self.key[:6]}")

    def job(self, out: Path, data_dir: str | None, registry_file: str | None,
            checkpoint_every: int) -> Job:
        # Workers run in their cell's folder: a relative path would name another place.
        out, data_dir, registry_file = (None if p is None else os.path.abspath(os.path.expanduser(p))
                                        for p in (out, data_dir, registry_file))
        return Job(out=out, model=self.model, optimizer=self.optimizer,
                   schedule=self.schedule, regularizer=self.regularizer, dataset=self.dataset,
                   params={**self.params, "datasets": {**self.params.get("datasets", {}),
                                                       "progress": False}},
                   data_dir=data_dir, epochs=self.epochs, batch_size=self.batch_size,
                   seed=self.seed, device=self.device, registry_file=registry_file,
                   checkpoint_every=checkpoint_every, target_acc=self.target_acc)


def load_grid_file(path: Path) -> dict[str, Any]:
    """A named grid (benchmarks/*.toml): a [grid] table with any subset of the keys."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: grid file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read grid file: {one_line(exc)}") from None
    if set(data) - {"grid"}:
        raise ConfigError(f"{path}: unknown key '{sorted(set(data) - {'grid'})[0]}' (expected [grid])")
    grid = dict(data.get("grid", {}))
    if isinstance(grid.get("target_acc"), int):
        grid["target_acc"] = float(grid["target_acc"])
    return check_table(f"{path}: grid", grid, GRID_FILE_SCHEMA, False)


def split_list(value: str | None) -> list[str] | None:
    """'cnn, mlp' -> ['cnn', 'mlp']; None stays None (take it from the grid)."""
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    if not items:
        raise ConfigError(f"empty list '{value}'")
    return items


def expand(catalog, settings: dict[str, Any]) -> list[Cell]:
    """Every combination of the axes in ``settings`` (names and globs), times the repeats."""
    chosen = {}
    for axis in AXES:
        try:
            chosen[axis] = catalog.registry.select(axis, settings[axis])
        except RegistryError as exc:
            raise ConfigError(f"--{axis}: {exc}") from None
    catalog.entry("datasets", settings["dataset"])
    params = _checked_sets(catalog, parse_sets(settings.get("set", [])), chosen, settings["dataset"])
    devices = list(dict.fromkeys(d.strip().lower() for d in settings["devices"]))
    cells = []
    for model in chosen["models"]:
        for optimizer in chosen["optimizers"]:
            for schedule in chosen["schedules"]:
                for regularizer in chosen["regularizers"]:
                    for launch in chosen["launchers"]:
                        nprocs = 1 if launch == "single" else settings["nprocs"]
                        for device in devices:
                            for repeat in range(settings.get("repeat", 1)):
                                cells.append(Cell(
                                    model, optimizer, schedule, regularizer, launch, nprocs,
                                    device, settings["dataset"], settings["epochs"],
                                    settings["batch_size"], settings["seed"] + repeat,
                                    _params_for(catalog, params, {
                                        "datasets": settings["dataset"], "models": model,
                                        "optimizers": optimizer, "schedules": schedule,
                                        "regularizers": regularizer}),
                                    settings.get("target_acc")))
    return cells


def _checked_sets(catalog, params: dict, chosen: dict, dataset: str) -> dict:
    """A ``--set kind.key`` must fit at least one selected entry of its kind, and every
    entry that has the key must accept the value: a typo fails before anything runs."""
    for kind, values in params.items():
        names = chosen.get(kind) or [dataset]
        for key, value in values.items():
            takers = [n for n in names if key in catalog.entry(kind, n).defaults]
            if not takers:
                raise ConfigError(f"--set {kind[:-1]}.{key}: no selected {kind[:-1]} has a "
                                  f"parameter '{key}' ({', '.join(names)})")
            for name in takers:
                catalog.params(kind, name, {key: value})
    return params


def _params_for(catalog, params: dict, names: dict[str, str]) -> dict:
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

