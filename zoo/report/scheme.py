"""How the report tells points and lines apart (pure: no matplotlib).

A sweep's axes are the swept kinds of ``zoo.kinds`` (dataset, model, optimizer, ...) and
the process count, then device and threads; a figure identifies its points by those that
vary among what it draws:

* colour: the first varying axis (usually the model), Okabe-Ito in natural order of the
  axis's values over the whole sweep, so a model keeps its colour in every figure;
* marker: the second varying axis (usually the optimizer);
* text beside each point: the values of the further varying axes (every point when there
  are at most ``MAX_LABELLED``, else the points on the Pareto front only).

The Pareto front is the set of points no other point beats on both measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from zoo import kinds
from zoo.registry import natural_key

# Okabe & Ito's palette, which stays distinguishable under the common colour-vision
# deficiencies; yellow last because it is faint on white.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
MAX_LABELLED = 12
# A sweep's identifying axes, in the order of the grid's product and of `zoo results`.
SWEEP_AXES = [kind.field for kind in kinds.swept()] + ["nprocs", "device", "threads"]


def natural_sorted(values: Iterable) -> list:
    return sorted(set(values), key=lambda v: natural_key(str(v)))


def varying(points: list[dict[str, Any]], axes: Iterable[str]) -> list[str]:
    """The axes among ``axes`` that take more than one value over ``points``."""
    return [axis for axis in axes if len({str(p.get(axis)) for p in points}) > 1]


def value_text(axis: str, value: Any) -> str:
    """A value as a legend or label shows it: numbers say what they count."""
    if axis in ("nprocs", "threads"):
        return f"{axis} {value}"
    if axis == "seed":
        return f"seed {value}"
    return str(value)


@dataclass
class Encoding:
    """Which axis is shown by colour, which by marker, which by text (see the module doc)."""
    colour_axis: str | None
    marker_axis: str | None
    label_axes: list[str]
    colour_values: list
    marker_values: list

    def colour(self, point: dict[str, Any]) -> str:
        if self.colour_axis is None:
            return PALETTE[0]
        return PALETTE[self.colour_values.index(point[self.colour_axis]) % len(PALETTE)]

    def marker(self, point: dict[str, Any]) -> str:
        if self.marker_axis is None:
            return MARKERS[0]
        return MARKERS[self.marker_values.index(point[self.marker_axis]) % len(MARKERS)]

    def label(self, point: dict[str, Any]) -> str:
        return "/".join(value_text(a, point[a]) for a in self.label_axes)

    def identity(self, point: dict[str, Any]) -> str:
        """Every varying axis's value: the point's full name."""
        axes = [a for a in (self.colour_axis, self.marker_axis) if a] + self.label_axes
        return "/".join(value_text(a, point[a]) for a in axes)

    def describe(self) -> str:
        parts = []
        if self.colour_axis:
            parts.append(f"colour: {self.colour_axis}")
        if self.marker_axis:
            parts.append(f"marker: {self.marker_axis}")
        if self.label_axes:
            parts.append(f"text: {'/'.join(self.label_axes)}")
        return "; ".join(parts)


def encode(points: list[dict[str, Any]], axes: Iterable[str],
           every_row: list[dict[str, Any]] | None = None) -> Encoding:
    """The encoding of ``points`` over ``axes``; value orders come from ``every_row`` (the
    whole sweep) when given, so that colours agree between figures."""
    axes = list(axes)
    moving = varying(points, axes)
    pool = (every_row or []) + points

    def order(axis):
        return natural_sorted(p[axis] for p in pool if axis in p) if axis else []

    colour_axis = moving[0] if moving else None
    marker_axis = moving[1] if len(moving) > 1 else None
    return Encoding(colour_axis, marker_axis, moving[2:], order(colour_axis), order(marker_axis))


def pareto_front(points: list[tuple[float, float]], lower_x_is_better: bool = True) -> list[int]:
    """Indices of the points no other point beats on both x (smaller is better) and y
    (larger is better), in increasing x."""
    sign = 1 if lower_x_is_better else -1
    order = sorted(range(len(points)), key=lambda i: (sign * points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front
