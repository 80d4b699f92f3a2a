"""Parameter axes of a grid: the space's axes typed by the selected entries, and each
combination of their values for one combination of entries.

An axis of an entry parameter applies to the entries that have the parameter (as a
single ``--set`` does: ``optimizer.momentum`` over sgd and momentum varies the momentum
cells only).  Each value is checked by the registry against every such entry; a value
equal to the entry's default is left out of the cell's parameters, so that cell keeps
the key (and the stored result) of a sweep without the axis.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoo import kinds
from zoo.bench.space import Axis, Choice, axis_kind, choice, set_axis
from zoo.errors import ConfigError, RegistryError

if TYPE_CHECKING:
    from zoo.plugin.facade import Catalog


@dataclass(frozen=True)
class GridAxis:
    """One axis a grid enumerates: ``kind`` None for a shared number (batch_size, epochs)."""

    name: str  # "optimizer.learning_rate", "batch_size"
    kind: str | None
    param: str
    values: tuple[Any, ...]
    texts: tuple[str, ...]  # each value in a cell's folder name: readable, safe, distinct

    @property
    def varied(self) -> bool:
        return len(self.values) > 1


def split_sets(catalog: Catalog, sets: dict[str, dict[str, Any]], chosen: Mapping[str, list[str]],
               space: Mapping[str, Axis]) -> tuple[dict[str, dict[str, Any]], list[GridAxis]]:
    """The single ``--set`` values, and the axes a grid enumerates (``search_space``)."""
    singles, merged = search_space(catalog, sets, chosen, space)
    axes = [typed_axis(catalog, name, axis, where, chosen) for name, (axis, where) in merged.items()]
    return singles, axes


def search_space(catalog: Catalog, sets: dict[str, dict[str, Any]], chosen: Mapping[str, list[str]],
                 space: Mapping[str, Axis]) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[Axis, str]]]:
    """The single ``--set`` values, and the sweep's space (not enumerated: what a sampler
    draws from), each axis with where it was named: the spec's space, replaced by any
    ``--set`` of the same name; a ``--set`` of several values (by the entries' declared
    types) is a Choice."""
    singles: dict[str, dict[str, Any]] = {}
    merged: dict[str, tuple[Axis, str]] = {name: (axis, f"[space] {name}") for name, axis in space.items()}
    for kind, values in sets.items():
        singular = kinds.get(kind).singular
        for key, raw in values.items():
            name = f"{singular}.{key}"
            several = None if _list_param(catalog, kind, key, chosen[kind], raw) else set_axis(raw)
            merged.pop(name, None)
            if several is None:
                singles.setdefault(kind, {})[key] = raw
            else:
                merged[name] = (choice(several, f"--set {name}"), f"--set {name}")
    return singles, merged


def _list_param(catalog: Catalog, kind: str, key: str, names: list[str], raw: Any) -> bool:
    """A list for a parameter declared as a list is one value (unless a list of lists)."""
    declared = [catalog.entry(kind, n).defaults[key] for n in names
                if key in catalog.entry(kind, n).defaults]
    if not declared or not all(isinstance(d, (list, tuple)) for d in declared):
        return False
    return not (isinstance(raw, list) and raw and all(isinstance(v, list) for v in raw))


def typed_axis(catalog: Catalog, name: str, axis: Axis, where: str,
           chosen: Mapping[str, list[str]]) -> GridAxis:
    """The axis's values checked (and typed) by every selected entry that has it."""
    kind, param = axis_kind(name, where)
    values = axis.grid_values(where)
    if kind is not None:
        takers = [n for n in chosen[kind] if param in catalog.entry(kind, n).defaults]
        if not takers:
            singular = kinds.get(kind).singular
            raise ConfigError(f"{where}: no selected {singular} has a parameter '{param}' "
                              f"({', '.join(chosen[kind])})")
        unique: dict[str, Any] = {}
        for value in values:
            typed = []
            for taker in takers:
                try:
                    typed.append(catalog.params(kind, taker, {param: value})[param])
                except RegistryError as exc:
                    raise ConfigError(f"{where}: {exc}") from None
            # 1 and 1.0 are one value of a float parameter: one cell, not two alike.
            unique.setdefault(json.dumps(typed, sort_keys=True, default=str), value)
        values = tuple(unique.values())
    return GridAxis(name, kind, param, values, value_texts(values))


def variants(catalog: Catalog, axes: list[GridAxis],
             entries: Mapping[str, str]) -> list[tuple[dict[str, dict[str, Any]], dict[str, Any],
                                                    tuple[tuple[str, str], ...]]]:
    """Each combination of the axes that apply to ``entries``: (parameters to set,
    shared numbers to set, the varied axes' (name, text) for the folder name)."""
    mine = [a for a in axes if a.kind is None or a.param in catalog.entry(a.kind, entries[a.kind]).defaults]
    out = []
    for picks in itertools.product(*(range(len(a.values)) for a in mine)):
        params: dict[str, dict[str, Any]] = {}
        shared: dict[str, Any] = {}
        labels = []
        for axis, index in zip(mine, picks):
            value = axis.values[index]
            if axis.varied:
                labels.append((axis.name, axis.texts[index]))
            if axis.kind is None:
                shared[axis.param] = value
                continue
            # Typed as this entry declares it (an int given to a float parameter: a float).
            name = entries[axis.kind]
            value = catalog.params(axis.kind, name, {axis.param: value})[axis.param]
            if not _is_default(catalog, axis, name, value):
                params.setdefault(axis.kind, {})[axis.param] = value
        out.append((params, shared, tuple(labels)))
    return out


def _is_default(catalog: Catalog, axis: GridAxis, name: str, value: Any) -> bool:
    assert axis.kind is not None
    default = catalog.params(axis.kind, name)[axis.param]
    return type(default) is type(value) and default == value


def value_texts(values: tuple[Any, ...]) -> tuple[str, ...]:
    """Short, filesystem-safe texts of ``values``; where two would read alike, each
    value's full form, and where even those do, its position."""
    for render in (_short, _full):
        texts = tuple(render(v) for v in values)
        if len(set(texts)) == len(texts):
            return texts
    return tuple(f"v{i}" for i in range(len(values)))


def _short(value: Any) -> str:
    return _safe(f"{value:.4g}" if isinstance(value, float) else str(value))


def _full(value: Any) -> str:
    return _safe(repr(value) if isinstance(value, float) else str(value))


def _safe(text: str) -> str:
    # Letters, digits, '.', '+' and '-' (1e-05, -0.5): nothing a shell or a file system
    # reads specially; the text always follows the axis's name, never leads a name.
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")[:24] or "_"


def short_name(name: str) -> str:
    """``optimizer.learning_rate`` -> ``lr``, ``batch_size`` -> ``bs``, ``epochs`` ->
    ``epochs``: the initials of a parameter of several words, else its name."""
    param = name.rpartition(".")[2]
    words = [w for w in param.split("_") if w]
    return re.sub(r"[^A-Za-z0-9]", "", "".join(w[0] for w in words) if len(words) > 1 else param)[:12] or "p"


def label(name: str, text: str) -> str:
    """An axis value in a folder name: ``lr0.001``, ``bs64``, ``activation_tanh``,
    ``beta1_0.9`` (a name ending in a digit keeps its own)."""
    short = short_name(name)
    glued = (text[:1].isdigit() or text[:1] in "+.") and not short[-1:].isdigit()
    return f"{short}{text}" if glued else f"{short}_{text}"
