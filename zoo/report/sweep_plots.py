"""The pictures of a sweep: validation accuracy per epoch (faceted by model), accuracy
against wall time, throughput per launcher and process count, time to target accuracy.

With a second sweep (``--compare``) its data is drawn over the first: dashed lines and
hollow markers.  Accuracy and time points come from zoo.bench.tables' summaries, the
numbers ``zoo results`` prints.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from zoo.bench.tables import summarize
from zoo.registry import natural_key
from zoo.report import style
from zoo.report.sources import SweepData, status_kind

# Beyond this many distinct lines, a legend entry per line is unreadable: lines are
# coloured by one axis instead (the legend collapses to that axis's values).
MAX_LINE_LABELS = 10
MAX_BARS = 40
LEGEND_WIDTH = 2.6  # inches added to the right of facet grids for the legend


def _sorted(values) -> list:
    return sorted(set(values), key=lambda v: natural_key(str(v)))


def _line_parts(row: dict) -> dict[str, str]:
    return {"optimizer": row["optimizer"], "schedule": row["schedule"],
            "regularizer": row["regularizer"], "launch": f"{row['launch']}×{row['nprocs']}",
            "device": row["device"], "seed": f"seed {row['seed']}"}


def _sources(sweep: SweepData, other: SweepData | None) -> list[tuple[SweepData, bool]]:
    return [(sweep, False)] + ([(other, True)] if other is not None else [])


def _overlay_handles(sweep: SweepData, other: SweepData | None, kind: str):
    from matplotlib.lines import Line2D

    if other is None:
        return [], []
    if kind == "line":
        handles = [Line2D([], [], color="grey", linestyle="-"), Line2D([], [], color="grey", linestyle="--")]
    else:
        handles = [Line2D([], [], color="grey", marker="o", linestyle="none"),
                   Line2D([], [], color="grey", marker="o", markerfacecolor="none", linestyle="none")]
    return handles, [f"this: {sweep.path.name}", f"other: {other.path.name}"]


def val_acc_figure(sweep: SweepData, other: SweepData | None = None):
    """One line per stored row (cell and seed), one facet per model; None if no cell
    has finished an epoch yet."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    lines = []
    for source, is_other in _sources(sweep, other):
        for row in source.rows:
            epochs = [e for e in source.epochs_of(row) if e.get("val_acc") is not None]
            if epochs:
                lines.append((row, is_other, [e["epoch"] for e in epochs], [e["val_acc"] for e in epochs]))
    if not lines:
        return None
    parts = [_line_parts(row) for row, *_ in lines]
    # Over this sweep's lines only: the compared sweep is told apart by its line style.
    mine = [p for p, (_, is_other, *_) in zip(parts, lines) if not is_other] or parts
    varying = [axis for axis in parts[0] if len({p[axis] for p in mine}) > 1]
    labels = [", ".join(p[a] for a in varying) or row["model"] for p, (row, *_) in zip(parts, lines)]
    collapsed = len(set(labels)) > MAX_LINE_LABELS
    keys = [p[varying[0]] for p in parts] if collapsed and varying else labels
    order = _sorted(keys)
    models = _sorted(row["model"] for row, *_ in lines)
    fig, axes = style.facets(len(models), extra_width=LEGEND_WIDTH)
    ended_badly = False
    for (row, is_other, xs, ys), key in zip(lines, keys):
        index = order.index(key)
        ax = axes[models.index(row["model"])]
        ax.plot(xs, ys, color=style.colour(index),
                linestyle="--" if is_other else ("-" if other else style.linestyle(index)),
                marker="o", markersize=2.5 if collapsed else 3.5,
                markerfacecolor="none" if is_other else style.colour(index),
                linewidth=0.9 if collapsed else 1.4, alpha=0.6 if collapsed else 0.95)
        if status_kind(row["status"]) == "problem":
            ended_badly = True
            ax.plot(xs[-1], ys[-1], marker="x", color="black", markersize=7, linestyle="none")
    for ax, model in zip(axes, models):
        ax.set_title(f"{model}: validation accuracy per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (fraction)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [Line2D([], [], color=style.colour(i), linestyle="-" if other else style.linestyle(i),
                      marker="o", markersize=3.5) for i in range(len(order))]
    names = list(order)
    if ended_badly:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none"))
        names.append("run ended diverged/failed/timeout")
    extra_handles, extra_names = _overlay_handles(sweep, other, "line")
    title = f"colour: {varying[0]}" if collapsed and varying else None
    style.outside_legend(fig, handles + extra_handles, names + extra_names, title=title)
    return fig


def acc_time_figure(sweep: SweepData, other: SweepData | None = None):
    """One point per combination and device (the summary `zoo results` shows)."""
    from matplotlib.lines import Line2D

    points = [(s, is_other) for source, is_other in _sources(sweep, other)
              for s in summarize(source.rows) if s["ok_runs"]]
    if not points:
        return None
    devices = _sorted(s["device"] for s, _ in points)
    launchers = _sorted(s["launch"] for s, _ in points)
    fig = style.figure(8.5, 5.0)
    ax = fig.subplots()
    groups = defaultdict(list)
    for s, is_other in points:
        groups[(s["device"], s["launch"], is_other)].append(s)
    for (device, launch, is_other), members in groups.items():
        c = style.colour(devices.index(device))
        xerr, yerr = ([m[k] or 0 for m in members] for k in ("time_std", "acc_std"))
        ax.errorbar([m["time"] for m in members], [m["acc"] for m in members],
                    xerr=xerr if any(xerr) else None, yerr=yerr if any(yerr) else None,
                    fmt=style.MARKERS[launchers.index(launch) % len(style.MARKERS)], color=c,
                    markerfacecolor="none" if is_other else c, markersize=6, capsize=2,
                    elinewidth=0.8, alpha=0.85)
    times = [s["time"] for s, _ in points if s["time"]]
    if times and min(times) > 0 and max(times) / min(times) > 30:
        ax.set_xscale("log")
    ax.set_xlabel("wall time per cell (s)")
    ax.set_ylabel("test accuracy (fraction)")
    ax.set_title("Accuracy against wall time, one point per combination and device")
    style.outside_legend(fig, [Line2D([], [], color=style.colour(i), marker="o", linestyle="none")
                               for i in range(len(devices))], devices, title="colour: device")
    extra_handles, extra_names = _overlay_handles(sweep, other, "marker")
    style.outside_legend(fig, [Line2D([], [], color="grey", linestyle="none",
                                      marker=style.MARKERS[i % len(style.MARKERS)])
                               for i in range(len(launchers))] + extra_handles,
                         launchers + extra_names, title="marker: launcher", where="lower center")
    return fig


def scaling_figure(sweep: SweepData, other: SweepData | None = None):
    """Training throughput against processes per cell: a line per launcher (and
    device) through the median of its cells, every cell as a faint point."""
    from matplotlib.lines import Line2D

    rows = [(row, is_other) for source, is_other in _sources(sweep, other) for row in source.rows
            if status_kind(row["status"]) == "ok" and row.get("images_per_s")]
    if not rows:
        return None
    models = _sorted(row["model"] for row, _ in rows)
    several_devices = len({row["device"] for row, _ in rows}) > 1
    series = _sorted(f"{row['launch']} ({row['device']})" if several_devices else row["launch"]
                     for row, _ in rows)
    fig, axes = style.facets(len(models), extra_width=LEGEND_WIDTH)
    groups = defaultdict(lambda: defaultdict(list))
    for row, is_other in rows:
        name = f"{row['launch']} ({row['device']})" if several_devices else row["launch"]
        groups[(row["model"], name, is_other)][int(row["nprocs"])].append(row["images_per_s"])
    for (model, name, is_other), by_n in groups.items():
        ax, i = axes[models.index(model)], series.index(name)
        ns = sorted(by_n)
        for n in ns:
            ax.plot([n] * len(by_n[n]), by_n[n], linestyle="none", marker=style.MARKERS[i % 8],
                    color=style.colour(i), alpha=0.25, markersize=4)
        ax.plot(ns, [statistics.median(by_n[n]) for n in ns], color=style.colour(i),
                marker=style.MARKERS[i % 8], linestyle="--" if is_other else "-",
                markerfacecolor="none" if is_other else style.colour(i), linewidth=1.5)
    every_n = _sorted(int(row["nprocs"]) for row, _ in rows)
    for ax, model in zip(axes, models):
        ax.set_xticks(every_n)
        ax.set_title(f"{model}: throughput per launcher")
        ax.set_xlabel("processes per cell (nprocs)")
        ax.set_ylabel("training throughput (images/s)")
    handles = [Line2D([], [], color=style.colour(i), marker=style.MARKERS[i % 8]) for i in range(len(series))]
    extra_handles, extra_names = _overlay_handles(sweep, other, "line")
    style.outside_legend(fig, handles + extra_handles, series + extra_names, title="launcher")
    return fig


def time_to_target_figure(sweep: SweepData):
    """The fastest combinations to reach --target-acc; None when none recorded it."""
    reached = sorted((s for s in summarize(sweep.rows) if s["ok_runs"] and s["time_to_target"] is not None),
                     key=lambda s: s["time_to_target"])
    if not reached:
        return None, ""
    shown = reached[:MAX_BARS]
    targets = _sorted(r["target_acc"] for r in sweep.rows if r.get("target_acc") is not None)
    devices = _sorted(s["device"] for s in shown)
    fig = style.figure(8.5, 0.26 * len(shown) + 1.6)
    ax = fig.subplots()
    ax.barh(range(len(shown)), [s["time_to_target"] for s in shown],
            color=[style.colour(devices.index(s["device"])) for s in shown])
    ax.set_yticks(range(len(shown)),
                  [f"{s['model']}/{s['optimizer']}/{s['schedule']}/{s['regularizer']}/"
                   f"{s['launch']}×{s['nprocs']} ({s['device']})" for s in shown], fontsize=7)
    ax.set_ylim(len(shown) - 0.4, -0.6)  # fastest on top, no empty margin
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("time until validation accuracy first reached the target (s)")
    ax.set_title(f"Time to target validation accuracy {', '.join(f'{t:g}' for t in targets)}")
    note = f" The fastest {len(shown)} of {len(reached)} are shown." if len(reached) > len(shown) else ""
    return fig, note


def sweep_plots(sweep: SweepData, other: SweepData | None = None) -> list[style.Plot]:
    overlay = " Dashed lines and hollow markers: the compared sweep." if other else ""
    plots = []
    fig = val_acc_figure(sweep, other)
    if fig is not None:
        plots.append(style.plot("val-acc-per-epoch", "Validation accuracy per epoch",
                                "Every cell's validation accuracy after each epoch, one panel per "
                                "model." + overlay, fig))
    fig = acc_time_figure(sweep, other)
    if fig is not None:
        plots.append(style.plot("acc-vs-time", "Accuracy against wall time",
                                "Mean test accuracy against mean wall time over a combination's "
                                "seeds (bars: one standard deviation), for combinations with at "
                                "least one ok run." + overlay, fig))
    fig = scaling_figure(sweep, other)
    if fig is not None:
        plots.append(style.plot("scaling", "Scaling", "Training throughput (images/s over all "
                                "ranks) of ok cells against their process count; the line joins "
                                "the medians of a launcher's cells." + overlay, fig))
    fig, note = time_to_target_figure(sweep)
    if fig is not None:
        plots.append(style.plot("time-to-target", "Time to target accuracy",
                                "Seconds of training and validation until validation accuracy "
                                "first reached --target-acc (mean over ok seeds)." + note, fig))
    return plots
