"""A result's identity: everything that changes the numbers, and what changed between two.

A stored result may be shown again only for exactly the identity it was computed with:
every resolved parameter (plugin defaults < registry.toml < ``--set``), the data actually
loaded (its fingerprint, which covers the files' content and the split settings), and the
code that trained it (zoo, Paddle, and each plugin distribution that supplied an entry).
Nothing here imports paddle: versions come from the installed distributions' metadata.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.plugin.facade import Catalog


@lru_cache(maxsize=1)
def paddle_build() -> tuple[str, str]:
    """(distribution, version) of the installed Paddle, without importing paddle (1.4 s)."""
    for dist in ("paddlepaddle", "paddlepaddle-gpu"):
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    paddle = sys.modules.get("paddle")  # e.g. a source build with no distribution metadata
    return "paddle", str(getattr(paddle, "__version__", "unknown"))


def paddle_version() -> str:
    return paddle_build()[1]


def code_identity(catalog: Catalog, names: Mapping[str, str]) -> dict[str, Any]:
    """zoo, Paddle, and the distribution and version of each plugin that supplied an entry."""
    from zoo import __version__

    versions = {p.name: f"{p.distribution} {p.version}" for p in catalog.plugins}
    plugins = {}
    for kind, name in names.items():
        entry = catalog.entry(kind, name)
        plugins[entry.plugin] = versions.get(entry.plugin, entry.distribution)
    return {"zoo": __version__, "paddle": " ".join(paddle_build()),
            "plugins": dict(sorted(plugins.items()))}


def resolved_params(catalog: Catalog, names: Mapping[str, str],
                    overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every parameter each entry is built with, after all three layers of defaults."""
    return {kind: catalog.params(kind, name, overrides.get(kind)) for kind, name in names.items()}


def identity(catalog: Catalog, names: Mapping[str, str], overrides: Mapping[str, Mapping[str, Any]],
             data_fingerprint: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The full identity of a result as plain JSON data (stored, and compared on reuse)."""
    found = {"params": resolved_params(catalog, names, overrides), "data": data_fingerprint,
             "code": code_identity(catalog, names)}
    return {"settings": dict(settings), **found} if settings is not None else found


def digest(value: Any) -> str:
    """A stable sha256 of JSON data (key order does not matter)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12]  # a fingerprint: its head is enough to tell two apart
    return "(none)" if value is None else json.dumps(value) if not isinstance(value, str) else value


def differences(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """What changed from ``old`` to ``new``, one ``key old -> new`` item per leaf.

    Settings come first, then the data, parameters and code.  When an entry itself was
    swapped (``settings.optimizer adam -> sgd``), its parameters' differences are noise.
    """
    if not old:
        return ["no recorded identity (written by an older zoo)"]
    before, after = _flatten(old), _flatten(new)
    swapped = [f"params.{key.split('.', 1)[1]}s." for key in before
               if key.startswith("settings.") and key.split(".", 1)[1] in _ENTRY_SETTINGS
               and before.get(key) != after.get(key)]
    order = {"settings": 0, "data": 1, "params": 2, "code": 3}
    changed = []
    for key in sorted(set(before) | set(after), key=lambda k: (order.get(k.split(".")[0], 4), k)):
        if before.get(key, "(none)") == after.get(key, "(none)") or \
                any(f"{key}.".startswith(prefix) for prefix in swapped):
            continue
        label = "data fingerprint" if key == "data" else key
        changed.append(f"{label} {_show(before.get(key))} -> {_show(after.get(key))}")
    return changed


_ENTRY_SETTINGS = ("dataset", "model", "optimizer", "schedule", "regularizer")
