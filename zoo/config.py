"""registry.toml, zoo's configuration: which built-in plugins load, the default grid, overrides.

Every problem is a ConfigError naming the file and the key, on one line.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import kinds
from zoo.errors import ConfigError, RegistryError
from zoo.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

REGISTRY_ENV = "ZOO_REGISTRY"

# registry.toml's [grid]: one list of names or globs per swept kind (zoo.kinds), then the
# devices and the numbers every cell shares.
GRID_SCHEMA: dict[str, type | tuple[type, ...]] = {
    **{kind.axis: list for kind in kinds.swept()}, "devices": list, "nprocs": int,
    "epochs": int, "batch_size": int, "seed": int,
}
PLUGINS_SCHEMA = {"builtin": list, "disabled": list}
GRID_LISTS = {*(kind.axis for kind in kinds.swept()), "devices"}
# Seeds reach numpy's and Paddle's generators; Paddle takes a signed 64-bit seed.
MAX_SEED = 2**63 - 1
# The same limits hold for registry.toml's [grid], a grid file and the command line:
# (lowest, highest, lowest excluded).  A value outside them is a typo, not a big job.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "nprocs": (1, 64, False), "epochs": (1, 100_000, False), "batch_size": (1, 1_000_000, False),
    "seed": (0, MAX_SEED, False), "repeat": (1, 1_000, False), "target_acc": (0.0, 1.0, True),
    "limit_train": (1, 2**31 - 1, False),
}


@dataclass(frozen=True)
class Config:
    """The parsed, type-checked contents of one registry.toml."""

    path: Path
    builtin: list[str]
    disabled: list[str]
    grid: dict[str, Any]
    defaults: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def overrides(self, kind: str, name: str) -> dict[str, Any]:
        return dict(self.defaults.get(kind, {}).get(name, {}))


def packaged_registry_path() -> Path:
    return Path(__file__).with_name("registry.toml")


def registry_path(explicit: str | os.PathLike | None = None) -> Path:
    """--registry, then $ZOO_REGISTRY, then the copy shipped inside the package."""
    chosen = explicit or os.environ.get(REGISTRY_ENV)
    return Path(chosen) if chosen else packaged_registry_path()


def _type_name(t: type | tuple[type, ...]) -> str:
    return {str: "a string", int: "an integer", float: "a number", list: "a list",
            dict: "a table"}.get(t, str(t))


def check_table(where: str, table: Any, schema: dict[str, Any], required: bool) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    for key, value in table.items():
        if key not in schema:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(schema)})")
        expected = schema[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"{where}.{key} must be {_type_name(expected)}, "
                              f"got {type(value).__name__} {value!r}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}.{key} must be a list of strings")
        if expected is list and not value and key in GRID_LISTS:
            raise ConfigError(f"{where}.{key} must not be empty (it would give no cells)")
        check_bound(f"{where}.{key}", key, value)
    missing = [key for key in schema if key not in table] if required else []
    if missing:
        raise ConfigError(f"{where}: missing key '{missing[0]}'")
    return dict(table)


def legacy_grid(grid: Any) -> Any:
    """Before datasets were an axis, a grid named one: ``dataset = "mnist"``."""
    if isinstance(grid, dict) and isinstance(grid.get("dataset"), str) and "datasets" not in grid:
        grid = {("datasets" if key == "dataset" else key): ([value] if key == "dataset" else value)
                for key, value in grid.items()}
    return grid


def check_bound(where: str, key: str, value: Any) -> None:
    """A number outside BOUNDS[key] is a ConfigError naming ``where``."""
    if key not in BOUNDS or not isinstance(value, (int, float)):
        return
    low, high, low_open = BOUNDS[key]
    if value > high or value < low or (low_open and value == low):
        shown = f"({low:g}, {high:g}]" if low_open else f"[{low:g}, {high:g}]"
        raise ConfigError(f"{where} must be in {shown}, got {value!r}")


def parse_config(path: Path, text: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for key in data:
        if key not in ("plugins", "grid", "defaults"):
            raise ConfigError(f"{path}: unknown key '{key}' (known: plugins, grid, defaults)")
    plugins = check_table(f"{path}: plugins", data.get("plugins", {}), PLUGINS_SCHEMA, False)
    grid = check_table(f"{path}: grid", legacy_grid(data.get("grid", {})), GRID_SCHEMA, True)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults must be a table")
    for kind, by_name in defaults.items():
        if kind not in kinds.kind_names():
            raise ConfigError(f"{path}: defaults.{kind}: unknown kind "
                              f"(kinds: {', '.join(kinds.kind_names())})")
        if not isinstance(by_name, dict) or not all(isinstance(v, dict) for v in by_name.values()):
            raise ConfigError(f"{path}: defaults.{kind} must hold one table per entry")
    return Config(path, list(plugins.get("builtin", [])), list(plugins.get("disabled", [])),
                  grid, defaults)


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    """Read and type-check registry.toml (names are checked later, against the registry)."""
    path = registry_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: registry file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read registry file: {exc}") from None
    return parse_config(path, text)


def check_names(config: Config, registry: Registry) -> None:
    """Every name the file mentions must be registered, every default a known parameter."""
    where = config.path
    for kind in kinds.swept():
        try:
            registry.select(kind.name, config.grid[kind.axis])
        except RegistryError as exc:
            raise ConfigError(f"{where}: grid.{kind.axis}: {exc}") from None
    for kind, by_name in config.defaults.items():
        for name, params in by_name.items():
            try:
                registry.get(kind, name).params(params)
            except RegistryError as exc:
                raise ConfigError(f"{where}: defaults.{kind}.{name}: {exc}") from None


__all__ = ["Config", "check_names", "check_table", "load_config", "registry_path"]
