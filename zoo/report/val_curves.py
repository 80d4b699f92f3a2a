"""Validation accuracy per epoch: one line per cell and seed, one panel per model (and
dataset), chance level from the data, y-axes shared by a dataset's panels.

Lines are told apart by the swept kinds of ``zoo.kinds`` that vary within a panel
(optimizer, schedule, ...), then device and seed: a colour per combination of them, and
when several seeds ran, a line style per seed.  Past ``MAX_LINE_LABELS`` distinct lines
the legend collapses to one colour per value of the first varying axis.
"""

from __future__ import annotations

from collections import defaultdict

from zoo import kinds
from zoo.report import points, scheme, style
from zoo.report.sources import SweepData, status_kind, status_text, with_other
from zoo.report.style import LEGEND_WIDTH, overlay_handles

# Beyond this many distinct lines, a legend entry per line is unreadable: lines are
# coloured by one axis instead (the legend collapses to that axis's values).
MAX_LINE_LABELS = 10
SEED_STYLES = ["-", "--", "-."]  # seeds of one combination: its colour, these dashes (":" is chance)
# A pruned cell's last point: hollow, black-edged, pointing down (stopped), unlike any line marker.
PRUNED_MARK = {"marker": "v", "markersize": 8, "markerfacecolor": "white", "markeredgecolor": "black",
               "markeredgewidth": 1.2, "color": "black", "linestyle": "none"}


def _sorted(values) -> list:
    return scheme.natural_sorted(values)


# Validation curves are faceted by these axes (a panel per model, per dataset too when
# several ran); a line's colour tells the other varying axes apart.
PANEL_AXES = (kinds.get("datasets").field, kinds.get("models").field)


def _line_parts(row: dict, axes: list[str]) -> dict[str, str]:
    """What tells a validation line apart within its panel: every swept kind's entry but
    the panel's (from zoo.kinds), the launcher with its process count, the sweep's
    parameter axes (``learning_rate=0.01``), device, seed."""
    from zoo.bench.tables import axis_value
    from zoo.report.search import axis_text

    parts = {}
    for kind in kinds.swept():
        if kind.field in PANEL_AXES:
            continue
        parts[kind.field] = (f"{row['launch']}×{row['nprocs']}" if kind.field == "launch"
                             else str(row[kind.field]))
    parts.update({axis: axis_text(axis, axis_value(row, axis)) for axis in axes})
    return {**parts, "device": row["device"], "seed": f"seed {row['seed']}"}


def _panel_of(row: dict, several_datasets: bool) -> tuple:
    return tuple(row[a] for a in PANEL_AXES) if several_datasets else (row[PANEL_AXES[1]],)


def _shared_limits(lines, chance_of) -> dict:
    """(y-limits, chance shown) per dataset, shared by its panels: a model that learned
    nothing then shows as a flat line at chance next to the others, instead of zooming
    its noise into a panel of its own (points.accuracy_limits)."""
    ys: dict = defaultdict(list)
    for row, _, _, values in lines:
        ys[row["dataset"]] += values
    return {d: points.accuracy_limits(values, [chance_of[d]] if d in chance_of else [])
            for d, values in ys.items()}


def val_acc_figure(sweep: SweepData, other: SweepData | None = None):
    """One line per stored row (cell and seed), one panel per model (and dataset); None
    if no cell has finished an epoch yet."""
    from matplotlib.lines import Line2D

    lines = []
    for source, is_other in with_other(sweep, other):
        for row in source.rows:
            epochs = [e for e in source.epochs_of(row) if e.get("val_acc") is not None]
            if epochs:
                lines.append((row, is_other, [e["epoch"] for e in epochs], [e["val_acc"] for e in epochs]))
    if not lines:
        return None
    parts = [_line_parts(row, sweep.axes) for row, *_ in lines]
    # Over this sweep's lines only: the compared sweep is told apart by its line style.
    mine = [p for p, (_, is_other, *_) in zip(parts, lines) if not is_other] or parts
    varying = [axis for axis in parts[0] if len({p[axis] for p in mine}) > 1]
    labels = [", ".join(p[a] for a in varying) or row["model"] for p, (row, *_) in zip(parts, lines)]
    collapsed = len(set(labels)) > MAX_LINE_LABELS
    seeds = _sorted(p["seed"] for p in parts)
    # Seeds of one combination share its colour and differ by dashes (not when the
    # compared sweep's dashes are in use, nor when the seed is all that varies).
    by_seed = (not collapsed and other is None and "seed" in varying and len(varying) > 1
               and len(seeds) <= len(SEED_STYLES))
    if collapsed and varying:
        keys = [p[varying[0]] for p in parts]
    elif by_seed:
        keys = [", ".join(p[a] for a in varying if a != "seed") for p in parts]
    else:
        keys = labels
    order = _sorted(keys)
    several_datasets = len({row["dataset"] for row, *_ in lines}) > 1
    panels = _sorted((_panel_of(row, several_datasets) for row, *_ in lines))
    # Chance level from the data each cell trained on (the store's num_classes).
    classes = {row["dataset"]: row.get("num_classes") for row, *_ in lines if row.get("num_classes")}
    chance_of = {d: 1 / n for d, n in classes.items()}
    limits = _shared_limits(lines, chance_of)
    fig, axes = style.facets(len(panels), extra_width=LEGEND_WIDTH)
    ended_badly = pruned = False
    for (row, is_other, xs, ys), key in zip(lines, keys):
        index = order.index(key)
        ax = axes[panels.index(_panel_of(row, several_datasets))]
        dashes = SEED_STYLES[seeds.index(f"seed {row['seed']}")] if by_seed else style.linestyle(index)
        ax.plot(xs, ys, color=style.colour(index),
                linestyle="--" if is_other else ("-" if other else dashes),
                marker="o", markersize=2.5 if collapsed else 3.5,
                markerfacecolor="none" if is_other else style.colour(index),
                linewidth=0.9 if collapsed else 1.4, alpha=0.6 if collapsed else 0.95,
                gid=f"{'other-' if is_other else ''}cell={row['slug']} seed={row['seed']}")
        if status_kind(row["status"]) == "problem":
            ended_badly = True
            ax.plot(xs[-1], ys[-1], marker="x", color="black", markersize=7, linestyle="none",
                    gid=f"ended {status_text(row['status'])} cell={row['slug']} seed={row['seed']}")
        elif status_kind(row["status"]) == "pruned":  # where the pruner stopped it
            pruned = True
            ax.plot(xs[-1], ys[-1], **PRUNED_MARK,
                    gid=f"pruned cell={row['slug']} seed={row['seed']}")
    chance_items = []
    for ax, panel in zip(axes, panels):
        dataset = next(row["dataset"] for row, *_ in lines if _panel_of(row, several_datasets) == panel)
        (low, high), shown = limits[dataset]
        chance_items = points.chance_lines(ax, {classes.get(dataset)}, shown) or chance_items
        ax.set_ylim(low, high)
        ax.set_title(f"{' on '.join(reversed(panel))}: validation accuracy per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (fraction)")
        style.integer_x_ticks(ax)
    handles = [Line2D([], [], color=style.colour(i),
                      linestyle="-" if other or by_seed else style.linestyle(i),
                      marker="o", markersize=3.5) for i in range(len(order))]
    names = list(order)
    if by_seed:
        handles += [Line2D([], [], color="grey", linestyle=SEED_STYLES[i]) for i in range(len(seeds))]
        names += seeds
    if ended_badly:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none"))
        names.append("run ended diverged/failed/timeout")
    if pruned:
        handles.append(Line2D([], [], **PRUNED_MARK))
        names.append("pruned: stopped here")
    if chance_items:
        handles.append(Line2D([], [], color=style.CHANCE_COLOUR, linestyle=":"))
        names.append("chance: 1/classes" if len(set(classes.values())) > 1 else chance_items[0][1])
    extra_handles, extra_names = overlay_handles(sweep, other, "line")
    title = f"colour: {varying[0]}" if collapsed and varying else None
    if by_seed:
        title = f"colour: {', '.join(a for a in varying if a != 'seed')}; dashes: seed"
    style.outside_legend(fig, handles + extra_handles, names + extra_names, title=title)
    return fig


