"""A search space: what each varied setting of a sweep may take.

A grid file's ``[space]`` table and ``--set KIND.PARAM=V1,V2`` (or a JSON list) name
axes: an entry parameter (``"optimizer.learning_rate"``) or a shared number
(``batch_size``, ``epochs``).  An axis is a ``Choice`` of values or a ``Range``
(``{ low = 1e-4, high = 1e-1, log = true }``, integers when both ends are, ``step``).
A grid enumerates a choice, and a range only when it says how (``steps = N`` points, or
a ``step``); a sampler (random, Optuna) draws from ``Range.low/high/log/step`` instead.
Parameter values are typed by the entries in ``zoo.bench.grid``, which knows them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from zoo.config import check_bound
from zoo.errors import ConfigError
from zoo.job import PARAM_KINDS

# The shared numbers an axis may vary besides entry parameters (zoo.config.BOUNDS).
SHARED_AXES = ("batch_size", "epochs")
RANGE_KEYS = {"low", "high", "log", "step", "steps"}
MAX_POINTS = 10_000  # a grid axis of more points is a typo, not a sweep


@dataclass(frozen=True)
class Choice:
    """Values to try, in the order given (duplicates dropped)."""

    values: tuple[Any, ...]

    def grid_values(self, where: str) -> tuple[Any, ...]:
        return self.values


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (both included); ``integer`` when both ends are
    integers.  ``log``: spaced (or sampled) evenly in log scale.  ``step``: only
    ``low + k * step``.  ``steps``: how many points a grid takes (log-spaced when ``log``)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    step: float | None = None
    steps: int | None = None

    def grid_values(self, where: str) -> tuple[Any, ...]:
        """The points a grid runs; a range that does not say how many is an error."""
        if self.steps is not None:
            points = self._spaced(self.steps)
        elif self.step is not None:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            if count > MAX_POINTS:
                raise ConfigError(f"{where}: step {self.step:g} gives {count} points "
                                  f"(at most {MAX_POINTS})")
            points = [self.low + k * self.step for k in range(count)]
        else:
            raise ConfigError(f"{where}: a grid cannot enumerate the range {self.low:g}..{self.high:g}; "
                              f"give it steps = N (N points{', log-spaced' if self.log else ''}) "
                              f"or step = S, or sample it: --search random --trials N")
        if self.integer:
            return tuple(dict.fromkeys(int(round(p)) for p in points))
        return tuple(dict.fromkeys(float(f"{p:.12g}") for p in points))

    def _spaced(self, n: int) -> list[float]:
        if n == 1:
            return [self.low]
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            return [math.exp(a + (b - a) * k / (n - 1)) for k in range(n)]
        return [self.low + (self.high - self.low) * k / (n - 1) for k in range(n)]


Axis = Union[Choice, Range]


def axis_kind(name: str, where: str) -> tuple[str | None, str]:
    """``"optimizer.learning_rate"`` -> ("optimizers", "learning_rate"); ``"epochs"`` ->
    (None, "epochs").  Anything else is a ConfigError."""
    if name in SHARED_AXES:
        return None, name
    prefix, dot, param = name.partition(".")
    if not dot or not param or prefix not in PARAM_KINDS:
        raise ConfigError(f"{where}: '{name}' is no axis (KIND.PARAM with KIND one of "
                          f"{', '.join(PARAM_KINDS)}, or {' or '.join(SHARED_AXES)})")
    return PARAM_KINDS[prefix], param


def parse_space(where: str, table: Any) -> dict[str, Axis]:
    """A grid file's ``[space]`` table: each key an axis, each value a list or a range."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    space: dict[str, Axis] = {}
    for name, value in table.items():
        place = f"{where}.{name}" if "." not in name else f'{where}."{name}"'
        kind, _ = axis_kind(name, place)
        if isinstance(value, list):
            axis: Axis = choice(value, place)
        elif isinstance(value, dict):
            axis = parse_range(value, place)
        else:
            raise ConfigError(f"{place} must be a list of values or a range "
                              f"{{ low = ..., high = ..., log = true }}, got {value!r}")
        if kind is None:
            _check_shared(name, axis, place)
        space[name] = axis
    return space


def choice(values: list[Any], where: str) -> Choice:
    if not values:
        raise ConfigError(f"{where}: an empty list of values")
    unique: dict[str, Any] = {}
    for value in values:
        unique.setdefault(json.dumps(value, sort_keys=True), value)
    return Choice(tuple(unique.values()))


def parse_range(table: Mapping[str, Any], where: str) -> Range:
    unknown = sorted(set(table) - RANGE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown range key '{unknown[0]}' (known: low, high, log, step, steps)")
    if "low" not in table or "high" not in table:
        raise ConfigError(f"{where}: a range needs low and high")
    low, high, log = table["low"], table["high"], table.get("log", False)
    step, steps = table.get("step"), table.get("steps")
    if not all(_number(v) for v in (low, high)):
        raise ConfigError(f"{where}: low and high must be numbers, got {low!r} and {high!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"{where}: low must be below high, got {low!r} and {high!r}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low!r}")
    if step is not None and (not _number(step) or step <= 0):
        raise ConfigError(f"{where}: step must be a positive number, got {step!r}")
    if step is not None and log:
        raise ConfigError(f"{where}: step and log = true do not go together (give steps = N)")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool)
                              or not 1 <= steps <= MAX_POINTS):
        raise ConfigError(f"{where}: steps must be a whole number from 1 to {MAX_POINTS}, got {steps!r}")
    if steps is not None and step is not None:
        raise ConfigError(f"{where}: give steps or step, not both")
    integer = all(isinstance(v, int) for v in (low, high)) and (step is None or isinstance(step, int))
    return Range(low=low, high=high, log=log, integer=integer, step=step, steps=steps)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_shared(name: str, axis: Axis, where: str) -> None:
    """batch_size and epochs: whole numbers within zoo.config.BOUNDS."""
    if isinstance(axis, Range):
        if not axis.integer:
            raise ConfigError(f"{where}: {name} takes whole numbers, got the range "
                              f"{axis.low!r}..{axis.high!r}")
        ends = (axis.low, axis.high)
    else:
        ends = axis.values
    for value in ends:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}: {name} must be a whole number, got {value!r}")
        check_bound(where, name, value)


def set_axis(raw: Any) -> list[Any] | None:
    """The values of a ``--set`` that names several (a JSON list, or a comma list of
    JSON values or words); None when it names one.  Whether a list is one value of a
    list parameter is decided by the entry's declared type (``zoo.bench.grid``)."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str) and "," in raw:
        return [_json_or_text(part.strip()) for part in raw.split(",")]
    return None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
