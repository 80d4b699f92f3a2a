"""Find plugin candidates: built-in modules named in registry.toml, then entry points.

Both become the same ``Candidate`` and travel the same path from here on, so a
built-in plugin has no privilege a third-party one lacks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

ENTRY_POINT_GROUP = "zoo"


@dataclass(frozen=True)
class Candidate:
    """A plugin that may be loaded: its name, how to import it, and where it comes from."""

    name: str
    source: str
    distribution: str
    version: str
    builtin: bool
    load: Callable[[], Any]


def _import(module: str) -> Callable[[], ModuleType]:
    return lambda: importlib.import_module(module)


def _own_version() -> str:
    from zoo import __version__

    return __version__


def builtin_candidates(modules: Iterable[str]) -> list[Candidate]:
    """Built-ins are named by module; they belong to the zoo distribution itself."""
    return [Candidate(module, module, "zoo", _own_version(), True, _import(module))
            for module in modules]


def entry_point_candidates(group: str = ENTRY_POINT_GROUP) -> list[Candidate]:
    """Installed third-party plugins, sorted by name so load order is reproducible."""
    found = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.append(Candidate(ep.name, ep.value, dist.name if dist else "?",
                               dist.version if dist else "?", False, ep.load))
    return sorted(found, key=lambda c: c.name)


def discover(builtin_modules: Iterable[str]) -> list[Candidate]:
    """All candidates: built-ins first (so their names win a clash), then entry points."""
    return builtin_candidates(builtin_modules) + entry_point_candidates()
