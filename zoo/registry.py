"""Typed catalogue entries and the registry that holds them.

Pure Python: it imports neither pluggy nor paddle, so listing and validation stay fast.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from zoo import kinds
from zoo.errors import RegistryError


def normalize_kind(kind: str) -> str:
    """Accept 'model' or 'models' (any case) and return the plural kind name."""
    try:
        return kinds.get(kind).name
    except KeyError:
        raise RegistryError(f"unknown kind '{kind}' (kinds: {', '.join(kinds.kind_names())})") from None


def singular(kind: str) -> str:
    return kinds.get(kind).singular


def natural_key(name: str) -> tuple:
    """Sort key that orders 'resnet2' before 'resnet10' (digit runs compare as numbers)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", name) if part)


class Register(Protocol):
    """The callable a hook receives; one instance is bound to one plugin and one kind."""

    def __call__(self, name: str, factory: Callable[..., Any], *, description: str,
                 defaults: Mapping[str, Any] | None = None) -> None: ...


class DatasetRegister(Protocol):
    """``zoo_register_datasets``' callable: ``Register`` plus an optional fixed shape."""

    def __call__(self, name: str, factory: Callable[..., Any], *, description: str,
                 defaults: Mapping[str, Any] | None = None,
                 input_shape: tuple[int, int, int] | None = None,
                 num_classes: int | None = None) -> None: ...


class FixedShape(NamedTuple):
    """A dataset's shape known without its files: ``(C, H, W)`` and its number of classes."""

    input_shape: tuple[int, int, int]
    num_classes: int


@dataclass(frozen=True)
class Entry:
    """One registered thing: a named factory with documented defaults and an owner."""

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    plugin: str = ""
    distribution: str = ""
    shape: FixedShape | None = None  # datasets of a fixed shape declare it (input_shape=...)

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with ``overrides``; an unknown or mistyped key is an error."""
        merged = dict(self.defaults)
        for key, value in (overrides or {}).items():
            merged[key] = check_param(self, key, value)
        return merged


def check_param(entry: Entry, key: str, value: Any) -> Any:
    """Validate one override against the entry's declared defaults (its schema)."""
    label = f"{singular(entry.kind)} '{entry.name}'"
    if key not in entry.defaults:
        known = ", ".join(sorted(entry.defaults)) or "none"
        raise RegistryError(f"{label} has no parameter '{key}' (parameters: {known})")
    default = entry.defaults[key]
    if default is None or value is None:
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise RegistryError(f"{label}: parameter '{key}' must be {type(default).__name__}, "
                            f"got {type(value).__name__} {value!r}")
    return value


def make_entry(kind: str, plugin: str, distribution: str, name: Any, factory: Any,
               description: Any, defaults: Any, input_shape: Any = None,
               num_classes: Any = None) -> Entry:
    """Check what a plugin passed to ``register`` and freeze it into an Entry."""
    where = f"plugin '{plugin}' registering a {singular(kind)}"
    shape = _fixed_shape(f"{where} '{name}'", kind, input_shape, num_classes)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
        raise RegistryError(f"{where}: invalid name {name!r} (letters, digits, '_', '-', '.')")
    if not callable(factory):
        raise RegistryError(f"{where} '{name}': factory is not callable")
    if not isinstance(description, str) or not description.strip():
        raise RegistryError(f"{where} '{name}': description must be a non-empty string")
    if defaults is not None and not isinstance(defaults, Mapping):
        raise RegistryError(f"{where} '{name}': defaults must be a mapping")
    problem = defaults_problem(factory, defaults)
    if problem:
        raise RegistryError(f"{where} '{name}': {problem}")
    if defaults is None:
        defaults = signature_defaults(factory)
    return Entry(kind, name, factory, description.strip().splitlines()[0],
                 MappingProxyType(dict(defaults)), plugin, distribution, shape)


def _fixed_shape(where: str, kind: str, input_shape: Any, num_classes: Any) -> FixedShape | None:
    """A dataset's declared ``input_shape`` and ``num_classes``: both or neither, positive."""
    if input_shape is None and num_classes is None:
        return None
    if kind != "datasets":
        raise RegistryError(f"{where}: only datasets declare input_shape and num_classes")
    if input_shape is None or num_classes is None:
        raise RegistryError(f"{where}: declare input_shape and num_classes together")
    dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(dims) != 3 or not all(_positive_int(d) for d in dims):
        raise RegistryError(f"{where}: input_shape must be (C, H, W) of positive integers, "
                            f"got {input_shape!r}")
    if not _positive_int(num_classes) or num_classes < 2:
        raise RegistryError(f"{where}: num_classes must be an integer >= 2, got {num_classes!r}")
    return FixedShape(dims, num_classes)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def shape_problem(entry: Entry, input_shape: Any, num_classes: Any) -> str:
    """How a loaded dataset contradicts its entry's declared shape ("" if it agrees)."""
    if entry.shape is None:
        return ""
    loaded = (tuple(int(d) for d in input_shape), int(num_classes))
    if loaded == (tuple(entry.shape.input_shape), entry.shape.num_classes):
        return ""
    return (f"dataset '{entry.name}' declares input_shape {list(entry.shape.input_shape)} and "
            f"{entry.shape.num_classes} classes, but loaded {list(loaded[0])} and {loaded[1]}")


def _signature(factory: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C callables have none
        return None


def signature_defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """A factory's tunable parameters: its keyword-only parameters and their defaults.

    They are the one place a plugin declares its defaults; ``register(...)`` derives them
    from here unless it is given ``defaults`` (needed for a factory taking ``**params``).
    """
    sig = _signature(factory)
    if sig is None:
        return {}
    return {p.name: _plain(p.default) for p in sig.parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}


def _plain(value: Any) -> Any:
    # A tuple default reads back from TOML or --set as a list: compare and show it as one.
    return list(value) if isinstance(value, tuple) else value


def defaults_problem(factory: Callable[..., Any], defaults: Mapping[str, Any] | None) -> str:
    """Why declared ``defaults`` disagree with the factory's signature ("" if they agree).

    Every keyword-only default must be declared with the same value, and every declared
    parameter must be one the factory accepts, so the two can never drift apart.
    """
    sig = _signature(factory)
    if defaults is None or sig is None:
        return ""
    params = sig.parameters
    own = signature_defaults(factory)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in own.items():
        if key not in defaults:
            return f"defaults lack the factory's parameter '{key}' (default {value!r})"
        if _plain(defaults[key]) != value:
            return (f"defaults say {key}={defaults[key]!r} but the factory's signature says "
                    f"{key}={value!r}")
    for key in defaults:
        accepted = key in params and params[key].kind in (params[key].KEYWORD_ONLY,
                                                          params[key].POSITIONAL_OR_KEYWORD)
        if not accepted and not takes_any:
            return f"defaults name '{key}', which the factory does not accept"
    return ""


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


class Registry:
    """All entries by kind and name.  Duplicates are errors, never silent overwrites."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in kinds.kind_names()}

    def add_all(self, entries: Iterable[Entry]) -> None:
        """Add a plugin's entries all together or not at all."""
        batch = list(entries)
        seen: dict[tuple[str, str], Entry] = {}
        for entry in batch:
            key = (entry.kind, entry.name)
            other = seen.get(key) or self._entries[entry.kind].get(entry.name)
            if other is not None:
                raise RegistryError(
                    f"duplicate {singular(entry.kind)} '{entry.name}': registered by plugin "
                    f"'{other.plugin}' and by plugin '{entry.plugin}'")
            seen[key] = entry
        for entry in batch:
            self._entries[entry.kind][entry.name] = entry

    def get(self, kind: str, name: str) -> Entry:
        """The entry ``name`` of ``kind``; an unknown name lists the closest ones."""
        kind = normalize_kind(kind)
        try:
            return self._entries[kind][name]
        except KeyError:
            pass
        known = self.names(kind)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else \
            f"registered: {', '.join(known) or 'none'}"
        raise RegistryError(f"unknown {singular(kind)} '{name}' ({hint})") from None

    def entries(self, kind: str | None = None, include: Iterable[str] = (),
                exclude: Iterable[str] = ()) -> list[Entry]:
        """Entries of one kind (or all kinds, in the table's order) filtered by globs, naturally sorted."""
        include, exclude = list(include), list(exclude)
        chosen = [normalize_kind(kind)] if kind else list(kinds.kind_names())
        found = []
        for k in chosen:
            for entry in sorted(self._entries[k].values(), key=lambda e: natural_key(e.name)):
                if include and not _matches(entry.name, include):
                    continue
                if exclude and _matches(entry.name, exclude):
                    continue
                found.append(entry)
        return found

    def names(self, kind: str, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[str]:
        return [e.name for e in self.entries(kind, include, exclude)]

    def select(self, kind: str, patterns: Iterable[str]) -> list[str]:
        """Expand exact names and globs, in the order given, without repeats.

        A pattern that matches nothing is an error (a typo must not shrink a grid silently).
        """
        chosen: list[str] = []
        for pattern in patterns:
            if any(ch in pattern for ch in "*?["):
                matched = self.names(kind, include=[pattern])
                if not matched:
                    raise RegistryError(f"no {singular(kind)} matches '{pattern}'")
            else:
                matched = [self.get(kind, pattern).name]
            chosen.extend(name for name in matched if name not in chosen)
        return chosen

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())
