"""The pictures of a search: the optimization history (best validation accuracy found
against epochs spent, cells in the order they ended) and parameter importance
(zoo.report.importance).  Numbers come from zoo.report.search; this module only draws.
"""

from __future__ import annotations

import textwrap

from zoo.report import points, style
from zoo.report.importance import TREES, Importance
from zoo.report.search import HistoryPoint, name_of, status_kind, varying_settings
from zoo.report.sources import SweepData
from zoo.report.style import LEGEND_WIDTH

# How an ended cell's point looks, by how it ended: (marker, filled, colour, legend text).
ENDS = {"ok": ("o", True, style.PALETTE[0], "cell finished ok"),
        "pruned": ("v", False, style.PALETTE[3], "cell pruned (accuracy where\nit stopped)"),
        "problem": ("x", True, "#000000", "cell diverged, failed, timed out\nor interrupted")}
BEST_COLOUR = style.PALETTE[1]


def history_figure(sweep: SweepData, found: list[HistoryPoint]):
    """One panel: each ended cell's accuracy at the epochs spent when it ended, and the
    staircase of the best found so far, the best cell named beside it."""
    from matplotlib.lines import Line2D

    fig = style.figure(7.5 + LEGEND_WIDTH + 0.6, 4.2)
    ax = fig.subplots()
    handles, names = [], []
    for kind, (marker, filled, colour, text) in ENDS.items():
        mine = [p for p in found if status_kind(p.row["status"]) == kind and p.acc is not None]
        if not mine:
            continue
        ax.plot([p.spent for p in mine], [p.acc for p in mine], linestyle="none", marker=marker,
                markersize=6, color=colour, markerfacecolor=colour if filled else "none",
                gid=f"ended {kind}")
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=colour,
                              markerfacecolor=colour if filled else "none"))
        names.append(f"{text} ({len(mine)})")
    steps = [p for p in found if p.best is not None]
    ax.plot([p.spent for p in steps], [p.best for p in steps], drawstyle="steps-post", color=BEST_COLOUR,
            linewidth=2, gid="best so far")
    winner = max(steps, key=lambda p: p.best)
    first = next(p for p in steps if p.best == winner.best)
    varying = varying_settings([p.row for p in found], sweep.axes) or ["model"]
    # The best cell is named in the legend, below the panel, where no text covers a point;
    # a ring marks it in the panel.
    ax.plot([first.spent], [first.best], linestyle="none", marker="o", markersize=12,
            markerfacecolor="none", markeredgecolor=BEST_COLOUR, markeredgewidth=1.5, gid="best cell")
    handles.append(Line2D([], [], color=BEST_COLOUR, linewidth=2, marker="o", markersize=9,
                          markerfacecolor="none", markeredgewidth=1.5))
    names.append("\n".join(textwrap.wrap(
        f"best found so far; the best: {name_of(first.row, varying, sweep.axes)}, "
        f"{first.best:.4f} after {first.spent} epochs", 36)))
    (low, high), _ = points.accuracy_limits([p.acc for p in found if p.acc is not None], [])
    ax.set_ylim(low, high)
    ax.set_xlim(0, found[-1].spent * 1.03 + 0.5)
    ax.set_xlabel("epochs spent (all cells ended so far, in the order they ended)")
    ax.set_ylabel("validation accuracy (fraction)")
    ax.set_title(f"Optimization history: {len(found)} cells, {found[-1].spent} epochs")
    style.integer_x_ticks(ax)
    style.outside_legend(fig, handles, names)
    return fig


def importance_figure(found: Importance):
    """A bar per varying setting: its share of the variance of the final validation
    accuracy (fANOVA), the largest on top."""
    names = list(found.values)
    fig = style.figure(8.5, 0.42 * len(names) + 1.5)
    ax = fig.subplots()
    bars = ax.barh(range(len(names)), [found.values[n] for n in names], color=style.PALETTE[0])
    for bar, name in zip(bars, names):
        bar.set_gid(f"importance setting={name}")
    for i, name in enumerate(names):
        ax.text(found.values[name] + 0.01, i, f"{found.values[name]:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.set_xlim(0, min(1.1, max(found.values.values()) + 0.12))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("share of the variance of final validation accuracy (fANOVA, sums to 1)")
    ax.set_title(f"Parameter importance over {found.cells} cells that finished ok")
    return fig


def search_plots(sweep: SweepData) -> tuple[list[style.Plot], list[str]]:
    """The search's figures, and notes saying why one is missing where it would apply."""
    from zoo.report.importance import importance
    from zoo.report.search import history, shows_history

    plots, notes = [], []
    found = history(sweep)
    if shows_history(found):
        plots.append(style.plot(
            "optimization-history", "Optimization history",
            "Each ended cell (cell and seed) at the epochs all cells had trained when it ended, "
            "in the order they ended, at its final validation accuracy (a pruned cell: where it "
            "stopped); the staircase is the best final validation accuracy of cells that "
            "finished ok so far, the one zoo results --best picks. Cells still running are "
            "not counted.", history_figure(sweep, found)))
    weights = importance(sweep.rows, sweep.axes)
    if weights.values:
        plots.append(style.plot(
            "parameter-importance", "Parameter importance",
            f"How much of the variance of the final validation accuracy each varying setting "
            f"explains, by Optuna's fANOVA (a forest of {TREES} trees, seed 0) over the {weights.cells} "
            f"cells that finished ok; pruned cells are left out, their final accuracy unknown. "
            f"Settings that interact share what they explain together.",
            importance_figure(weights)))
    elif weights.note:
        notes.append(weights.note)
    return plots, notes
