"""The typed facade core code uses: a Catalog of loaded plugins and registered entries.

Core code never calls ``pm.hook.*``: it asks the Catalog for entries and builds them.
Each plugin's hooks are called separately, with a ``register`` bound to that plugin, so
a hook that raises, hangs (or registers a duplicate) loses only its own plugin's entries.
Whatever plugins print meanwhile goes to stderr: stdout may be carrying JSON.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from zoo import kinds
from zoo.config import Config, check_names, load_config
from zoo.errors import RegistryError, ZooError, one_line
from zoo.plugin.discovery import discover
from zoo.plugin.guard import PluginTimeout, plugin_timeout, stdout_to_stderr, time_limit
from zoo.plugin.manager import PluginInfo, load_plugins, mark_broken
from zoo.registry import Entry, Registry, check_param, make_entry, shape_problem

STRICT_ENV = "ZOO_STRICT_PLUGINS"
BLOCK_ENV = "ZOO_BLOCK_PLUGINS"


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def strict_mode() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _Recorder:
    """The ``register`` callable handed to one plugin's hook for one kind."""

    def __init__(self, kind: str, info: PluginInfo, sink: list[Entry]) -> None:
        self.kind, self.info, self.sink = kind, info, sink

    def __call__(self, name: str, factory: Callable[..., Any], *, description: str,
                 defaults: Mapping[str, Any] | None = None, input_shape: Any = None,
                 num_classes: Any = None) -> None:
        self.sink.append(make_entry(self.kind, self.info.name, self.info.distribution,
                                    name, factory, description, defaults, input_shape, num_classes))


def _collect(pm: pluggy.PluginManager, infos: list[PluginInfo], strict: bool,
             timeout: float) -> Registry:
    registry = Registry()
    # In discovery order (built-ins first), so a clash always breaks the later plugin.
    for info in infos:
        plugin = pm.get_plugin(info.name) if info.status == "ok" else None
        if plugin is None:
            continue
        others = [p for p in pm.get_plugins() if p is not plugin]
        entries: list[Entry] = []
        try:
            with time_limit(timeout):
                for kind in kinds.KINDS:
                    if kind.hook in info.hooks:
                        pm.subset_hook_caller(kind.hook, remove_plugins=others)(
                            register=_Recorder(kind.name, info, entries))
            registry.add_all(entries)
        except PluginTimeout:
            mark_broken(info, f"registration timed out after {timeout:g} s", strict)
        except RegistryError as exc:
            mark_broken(info, str(exc), strict)
        except Exception as exc:  # a plugin's bug must not take the CLI down
            mark_broken(info, f"registration failed: {one_line(exc, with_type=True)}", strict)
    return registry


@dataclass
class Catalog:
    """Loaded plugins, their entries and the configuration they are used with."""

    config: Config
    registry: Registry
    plugins: list[PluginInfo]

    def entry(self, kind: str, name: str) -> Entry:
        return self.registry.get(kind, name)

    def params(self, kind: str, name: str, overrides: Mapping[str, Any] | None = None) -> dict:
        """An entry's parameters: plugin defaults < registry.toml defaults < overrides."""
        entry = self.entry(kind, name)
        merged = entry.params(self.config.overrides(entry.kind, name))
        merged.update({key: check_param(entry, key, value)
                       for key, value in (overrides or {}).items()})
        return merged

    def build(self, kind: str, name: str, overrides: Mapping[str, Any] | None = None,
              **context: Any) -> Any:
        """Call the entry's factory with its context arguments and merged parameters."""
        entry = self.entry(kind, name)
        params = self.params(kind, name, overrides)
        declared = _parameters(entry.factory)
        for wrapped in kinds.KINDS:
            if f"build_{wrapped.singular}" in declared:
                context[f"build_{wrapped.singular}"] = self._builder(wrapped)
        try:
            # Context (parameters, the schedule, input shape...) wins over declared defaults.
            built = entry.factory(**{**params, **context})
        except ZooError:
            raise
        except Exception as exc:
            raise RegistryError(f"building {kind} '{name}' (plugin '{entry.plugin}') failed: "
                                f"{one_line(exc, with_type=True)}") from exc
        if entry.shape is not None:  # a declaration that lies would build wrong models
            problem = shape_problem(entry, built.input_shape, built.num_classes)
            if problem:
                raise RegistryError(f"{problem} (plugin '{entry.plugin}')")
        return built

    def _builder(self, kind: kinds.Kind) -> Callable[..., Any]:
        """``build_<singular>(name, *context)``: builds an entry of ``kind`` with the
        context its factories get (zoo.kinds), for a factory that wraps one."""
        def build(name: str, *args: Any, **named: Any) -> Any:
            given = dict(zip(kind.context, args))
            if len(args) > len(kind.context) or set(given) & set(named) \
                    or set(given) | set(named) != set(kind.context):
                raise TypeError(f"build_{kind.singular} takes (name, {', '.join(kind.context)})")
            return self.build(kind.name, name, **given, **named)
        return build


def _parameters(func: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}


def load_catalog(registry_file: str | os.PathLike | None = None,
                 strict: bool | None = None, check: bool = True) -> Catalog:
    """Build the catalogue: read registry.toml, load plugins, collect their entries."""
    config = load_config(registry_file)
    strict = strict_mode() if strict is None else strict
    blocked = config.disabled + _env_list(BLOCK_ENV)
    timeout = plugin_timeout()
    with stdout_to_stderr():
        pm, infos = load_plugins(discover(config.builtin), blocked=blocked, strict=strict,
                                 timeout=timeout)
        registry = _collect(pm, infos, strict, timeout)
    if check:
        check_names(config, registry)
    return Catalog(config, registry, infos)
