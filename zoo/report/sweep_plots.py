"""The pictures of a sweep: validation accuracy per epoch (zoo.report.val_curves),
accuracy against wall time, throughput per launcher and process count, time to target
accuracy, accuracy against serving latency (zoo.report.infer_plots).

With a second sweep (``--compare``) its data is drawn over the first: dashed lines and
hollow markers.  Accuracy and time points come from zoo.bench.tables' summaries, the
numbers ``zoo results`` prints.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from zoo.bench.tables import summarize
from zoo.report import points, scheme, style
from zoo.report.sources import SweepData, status_kind, with_other
from zoo.report.style import LEGEND_WIDTH, overlay_handles
from zoo.report.val_curves import val_acc_figure

MAX_BARS = 40


def _sorted(values) -> list:
    return scheme.natural_sorted(values)


def _summary_points(sweep: SweepData, other: SweepData | None) -> list[dict]:
    out = []
    for source, is_other in with_other(sweep, other):
        classes = {r["dataset"]: r.get("num_classes") for r in source.rows if r.get("num_classes")}
        for s in summarize(source.rows, sweep.axes):  # a point per parameter value too
            if s["ok_runs"] and s["acc"] is not None and s["time"] is not None:
                out.append({**s, "x": s["time"], "y": s["acc"], "xerr": s["time_std"],
                            "yerr": s["acc_std"], "other": is_other,
                            "num_classes": classes.get(s["dataset"])})
    return out


def acc_time_figure(sweep: SweepData, other: SweepData | None = None):
    """(figure, caption note): one point per combination and device (the summary `zoo
    results` shows), identified by colour, marker and text (zoo.report.scheme); None
    when no combination has an ok run."""
    found = _summary_points(sweep, other)
    if not found:
        return None, ""
    return points.scatter_figure(
        found, scheme.SWEEP_AXES + sweep.axes, sweep.rows, xlabel="wall time per cell (s)",
        ylabel="test accuracy (fraction)", overlay=overlay_handles(sweep, other, "marker"),
        title="Test accuracy against wall time, one point per combination and device")


def scaling_figure(sweep: SweepData, other: SweepData | None = None):
    """Training throughput against processes per cell: a line per launcher (and
    device) through the median of its cells, every cell as a faint point."""
    from matplotlib.lines import Line2D

    rows = [(row, is_other) for source, is_other in with_other(sweep, other) for row in source.rows
            if status_kind(row["status"]) == "ok" and row.get("images_per_s")]
    if len({int(row["nprocs"]) for row, _ in rows}) < 2:
        return None  # one process count: nothing scales, the table holds the throughput
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
                    color=style.colour(i), alpha=0.25, markersize=4, gid=f"cells {name} nprocs={n}")
        ax.plot(ns, [statistics.median(by_n[n]) for n in ns], color=style.colour(i),
                marker=style.MARKERS[i % 8], linestyle="--" if is_other else "-",
                markerfacecolor="none" if is_other else style.colour(i), linewidth=1.5,
                gid=f"{'other-' if is_other else ''}median {name}")
    every_n = _sorted(int(row["nprocs"]) for row, _ in rows)
    for ax, model in zip(axes, models):
        ax.set_xticks(every_n)
        ax.set_title(f"{model}: throughput per launcher")
        ax.set_xlabel("processes per cell (nprocs)")
        ax.set_ylabel("training throughput (images/s)")
    handles = [Line2D([], [], color=style.colour(i), marker=style.MARKERS[i % 8]) for i in range(len(series))]
    extra_handles, extra_names = overlay_handles(sweep, other, "line")
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
    # Bars are named by the axes that vary (zoo.report.scheme), coloured as in acc-vs-time.
    # Over every ok combination, so that a lone bar still says which one it is.
    enc = scheme.encode([s for s in summarize(sweep.rows) if s["ok_runs"]], scheme.SWEEP_AXES, sweep.rows)
    fig = style.figure(8.5, 0.26 * len(shown) + 1.6)
    ax = fig.subplots()
    bars = ax.barh(range(len(shown)), [s["time_to_target"] for s in shown],
                   color=[enc.colour(s) for s in shown])
    for bar, s in zip(bars, shown):
        bar.set_gid(points.point_gid(s, scheme.SWEEP_AXES))
    ax.set_yticks(range(len(shown)), [enc.identity(s) or s["model"] for s in shown], fontsize=7)
    ax.set_ylim(len(shown) - 0.4, -0.6)  # fastest on top, no empty margin
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("time until validation accuracy first reached the target (s)")
    ax.set_title(f"Time to target validation accuracy {', '.join(f'{t:g}' for t in targets)}")
    if enc.colour_axis:
        from matplotlib.patches import Patch

        drawn = [v for v in enc.colour_values if v in {s[enc.colour_axis] for s in shown}]
        style.outside_legend(fig, [Patch(color=enc.colour(s)) for v in drawn
                                   for s in [next(s for s in shown if s[enc.colour_axis] == v)]],
                             [scheme.value_text(enc.colour_axis, v) for v in drawn],
                             title=f"colour: {enc.colour_axis}")
    note = f" The fastest {len(shown)} of {len(reached)} are shown." if len(reached) > len(shown) else ""
    return fig, note


def sweep_plots(sweep: SweepData, other: SweepData | None = None) -> list[style.Plot]:
    from zoo.report.infer_plots import latency_figure

    overlay = " Dashed lines and hollow markers: the compared sweep." if other else ""
    plots = []
    fig = val_acc_figure(sweep, other)
    if fig is not None:
        plots.append(style.plot("val-acc-per-epoch", "Validation accuracy per epoch",
                                "Every cell's validation accuracy after each epoch, one line per "
                                "cell and seed, one panel per model (and dataset); panels of a "
                                "dataset share their y-axis, and the dotted line is chance level "
                                "(1/classes of the cell's data)." + overlay, fig))
    fig, note = acc_time_figure(sweep, other)
    if fig is not None:
        plots.append(style.plot("acc-vs-time", "Accuracy against wall time",
                                "Mean test accuracy against mean wall time over a combination's "
                                "seeds (bars: one standard deviation), for combinations with at "
                                "least one ok run; the dashed staircase is the Pareto front (no "
                                "other point is both faster and more accurate)." + note + overlay,
                                fig))
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
    from zoo.report.profile_plot import profile_figure

    fig, note = profile_figure(summarize(sweep.rows))
    if fig is not None:
        plots.append(style.plot("performance-profile", "Performance profiles",
                                "For each kind whose entries vary: the share of workloads "
                                "(rho) on which an entry's time to target (median over seeds, "
                                "a miss counting as never, its best setting of the other axes) "
                                "is within tau times the fastest entry's; the score is the "
                                "area under the curve over [1, 4] divided by 3 (1: fastest "
                                "everywhere)." + note, fig))
    fig, note = latency_figure(sweep)
    if fig is not None:
        plots.append(style.plot("acc-vs-latency", "Accuracy against serving latency",
                                "Test accuracy of each cell and seed against its latency at batch 1 "
                                "(zoo bench-infer): the point is the median (p50), the whisker "
                                "reaches p99." + note, fig))
    return plots
