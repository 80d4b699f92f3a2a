"""Scatter figures whose every point can be told apart: accuracy against wall time and
against serving latency.  Colour, marker and text follow ``zoo.report.scheme``; the
Pareto front is drawn as a dashed staircase; chance level as a grey dotted line.

A point is a dict of the sweep's axes plus ``x``, ``y``, optional ``xerr``/``yerr``, an
optional ``x_to`` (a whisker to that x, e.g. p99 latency) and ``other`` (it comes from
the compared sweep: hollow marker, left off the front).
"""

from __future__ import annotations

from typing import Any

from zoo.report import scheme, style

FRONT_COLOUR = "#444444"


def point_gid(point: dict[str, Any], axes: list[str]) -> str:
    prefix = "other-point" if point.get("other") else "point"
    return prefix + " " + " ".join(f"{a}={point.get(a)}" for a in axes)


def _scatter(ax, points: list[dict], enc: scheme.Encoding, axes: list[str]) -> None:
    for p in points:
        colour = enc.colour(p)
        if p.get("x_to") is not None:
            ax.plot([p["x"], p["x_to"]], [p["y"], p["y"]], color=colour, linewidth=0.8,
                    alpha=0.35, gid="whisker " + point_gid(p, axes)[len("point "):])
        bars = ax.errorbar([p["x"]], [p["y"]], xerr=[p["xerr"]] if p.get("xerr") else None,
                           yerr=[p["yerr"]] if p.get("yerr") else None, fmt=enc.marker(p),
                           color=colour, markerfacecolor="none" if p.get("other") else colour,
                           markersize=7, capsize=2, elinewidth=0.8, alpha=0.9)
        bars.lines[0].set_gid(point_gid(p, axes))
        for cap in bars.lines[1]:
            cap.set_gid("errorbar")


def _front(ax, points: list[dict]) -> list[dict]:
    """The Pareto front as a staircase: the best accuracy reached by that time (or
    latency), carried on to the right edge of the data, also for a single point."""
    mine = [p for p in points if not p.get("other")]
    front = [mine[i] for i in scheme.pareto_front([(p["x"], p["y"]) for p in mine])]
    if front:
        right = max([p["x"] for p in points] + [p["x_to"] for p in points if p.get("x_to")])
        ax.plot([p["x"] for p in front] + [right], [p["y"] for p in front] + [front[-1]["y"]],
                color=FRONT_COLOUR, linestyle="--", linewidth=1.0, drawstyle="steps-post",
                zorder=0, gid="pareto")
    return front


def _texts(ax, points: list[dict], front: list[dict], enc: scheme.Encoding) -> None:
    """The further varying axes beside each point; past MAX_LABELLED points beside the
    front's points only, with their full name (the rest would be unreadable)."""
    if len(points) <= scheme.MAX_LABELLED:
        shown, name = ([p for p in points if not p.get("other")], enc.label) if enc.label_axes else ([], None)
    else:
        shown, name = front, enc.identity
    for p in shown:
        text = name(p)
        if text:
            ax.annotate(text, (p["x"], p["y"]), xytext=(4, 3), textcoords="offset points",
                        fontsize=6.5, color="#333333")


def _present(values: list, points: list[dict], axis: str) -> list[tuple[int, Any]]:
    """(index in the sweep's order, value) of the values this figure draws: a legend
    lists what is drawn, in the colours the whole sweep uses."""
    drawn = {p[axis] for p in points}
    return [(i, v) for i, v in enumerate(values) if v in drawn]


def accuracy_limits(ys: list[float], chances: list[float]) -> tuple[tuple[float, float], bool]:
    """y-limits for accuracies, and whether chance level is inside them.

    Chance is shown when the data comes closer to it than the data's own spread: then a
    model that learned nothing sits visibly on the chance line instead of its noise
    filling the axis, while a sweep where everything learned keeps its detail."""
    lo, hi = min(ys), max(ys)
    spread = max(hi - lo, 0.02)
    near = [c for c in chances if lo - c <= spread]
    lo, hi = min([lo] + near), max([hi] + near)
    pad = max(0.01, 0.06 * (hi - lo))
    return (max(0.0, lo - pad), min(1.0 + pad, hi + pad)), len(near) == len(chances)


def chance_lines(ax, classes: set[int], shown: bool = True) -> list[tuple[Any, str]]:
    """A dotted line at 1/classes for each class count drawn (from the data); legend items."""
    items = []
    for count in sorted(c for c in classes if c):
        line = ax.axhline(1 / count, color=style.CHANCE_COLOUR, linestyle=":", linewidth=1.2,
                          zorder=0, gid=f"chance classes={count}")
        items.append((line, f"chance: 1/{count} classes" + ("" if shown else " (below the axis)")))
    return items


def _scale(ax, values: list[float]) -> None:
    """Logarithmic past a factor 30, with ticks as plain numbers (0.5, 1, 2, 5, 10 ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = [v for v in values if v]
    if values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def scatter_figure(points: list[dict], axes: list[str], every_row: list[dict], *, xlabel: str,
                   ylabel: str, title: str, overlay: tuple[list, list] = ([], [])):
    """(figure, caption note) of ``points`` identified over ``axes``."""
    from matplotlib.lines import Line2D

    enc = scheme.encode([p for p in points if not p.get("other")] or points, axes, every_row + points)
    fig = style.figure(9.0, 5.4)
    ax = fig.subplots()
    _scatter(ax, points, enc, axes)
    front = _front(ax, points)
    _texts(ax, points, front, enc)
    classes = {p.get("num_classes") for p in points if p.get("num_classes")}
    # The error bars too, within what an accuracy can be.
    spans = [min(1.0, max(0.0, p["y"] + sign * (p.get("yerr") or 0))) for p in points for sign in (-1, 1)]
    limits, shown = accuracy_limits(spans, [1 / c for c in classes])
    extras = chance_lines(ax, classes, shown)
    ax.set_ylim(*limits)
    _scale(ax, [p["x"] for p in points] + [p["x_to"] for p in points if p.get("x_to")])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if enc.colour_axis:
        shown = _present(enc.colour_values, points, enc.colour_axis)
        style.outside_legend(fig, [Line2D([], [], color=scheme.PALETTE[i % len(scheme.PALETTE)],
                                          marker="o", linestyle="none") for i, _ in shown],
                             [scheme.value_text(enc.colour_axis, v) for _, v in shown],
                             title=f"colour: {enc.colour_axis}")
    handles, names = [], []
    if enc.marker_axis:
        shown = _present(enc.marker_values, points, enc.marker_axis)
        handles += [Line2D([], [], color="grey", linestyle="none",
                           marker=scheme.MARKERS[i % len(scheme.MARKERS)]) for i, _ in shown]
        names += [scheme.value_text(enc.marker_axis, v) for _, v in shown]
    if front:
        handles.append(Line2D([], [], color=FRONT_COLOUR, linestyle="--"))
        names.append("Pareto front")
    handles += [h for h, _ in extras] + overlay[0]
    names += [n for _, n in extras] + overlay[1]
    style.outside_legend(fig, handles, names, where="lower center",
                         title=f"marker: {enc.marker_axis}" if enc.marker_axis else None)
    note = f" Points: {enc.describe()}." if enc.describe() else " One combination: nothing varies."
    if front:
        axes_named = "/".join([a for a in (enc.colour_axis, enc.marker_axis) if a] + enc.label_axes)
        note += f" On the Pareto front{f' ({axes_named})' if axes_named else ''}: " + "; ".join(
            enc.identity(p) or "the only combination" for p in front) + "."
    return fig, note
