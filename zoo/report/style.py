"""Matplotlib, headless and in one look: the Agg canvas, a colour-blind-safe palette,
facet grids and legends that stay inside the figure, and PNG bytes out.

Figures are built from ``matplotlib.figure.Figure`` on an Agg canvas, never through
pyplot, so no GUI toolkit is ever imported and nothing global is left open.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ReportError
from zoo.report.scheme import MARKERS, PALETTE  # noqa: F401 - the drawing modules' one source

LINESTYLES = ["-", "--", ":", "-."]
CHANCE_COLOUR = "#767676"  # grey lines that are references, not results
DPI = 100
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "figure.facecolor": "white", "savefig.facecolor": "white"}
LEGEND_WIDTH = 2.6  # inches added to the right of facet grids for the legend
LEGEND_ROW_PT = 14  # height of one legend entry at legend.fontsize 8, with spacing

INSTALL_HINT = "zoo report needs matplotlib: pip install 'zoo[report]'"


@dataclass
class Plot:
    name: str  # file name without .png, also the figure's id in the page
    title: str
    caption: str
    png: bytes
    data: dict[str, Any] = field(default_factory=dict)  # zoo.report.figure_data.describe(fig)


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ReportError(INSTALL_HINT) from None
    # Also keeps any later pyplot import in this process headless.
    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update(STYLE)
    return matplotlib


def figure(width: float, height: float):
    """A constrained-layout Figure on an Agg canvas (``width`` x ``height`` inches)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def facets(count: int, *, max_cols: int = 3, width: float = 4.2, height: float = 3.0,
           extra_width: float = 0.0):
    """A figure with ``count`` subplots in rows of at most ``max_cols``; (fig, axes)."""
    cols = max(1, min(max_cols, count))
    rows = math.ceil(count / cols)
    fig = figure(width * cols + extra_width, height * rows + 0.6)
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def linestyle(index: int) -> str:
    """Past the palette, lines differ by dash pattern as well as colour."""
    return LINESTYLES[(index // len(PALETTE)) % len(LINESTYLES)]


def outside_legend(fig, handles, labels, *, title: str | None = None, where: str = "right upper",
                   max_entries: int = 24):
    """A figure legend outside the axes (so it covers no data) that fits the figure's
    height: entries go into as many columns as needed; beyond ``max_entries`` the rest
    are summed up in one last entry."""
    from matplotlib.lines import Line2D

    if not handles:
        return None
    if len(handles) > max_entries:
        rest = len(handles) - (max_entries - 1)
        handles = list(handles[:max_entries - 1]) + [Line2D([], [], linestyle="none")]
        labels = list(labels[:max_entries - 1]) + [f"... and {rest} more"]
    height_pt = fig.get_figheight() * 72 - 40
    per_col = max(1, int(height_pt // LEGEND_ROW_PT) - (1 if title else 0))
    ncols = math.ceil(len(handles) / per_col) if where.startswith("right") else min(len(handles), 6)
    return fig.legend(handles, labels, loc=f"outside {where}", title=title, ncols=ncols,
                      frameon=False, title_fontsize=8)


def png(fig) -> bytes:
    buffer = io.BytesIO()
    # No timestamp or version in the file, so the same data gives the same bytes.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def plot(name: str, title: str, caption: str, fig) -> Plot:
    from zoo.report.figure_data import describe

    image = png(fig)
    # Read from the very objects the PNG was drawn from, in the state it was drawn in.
    return Plot(name, title, caption, image, describe(fig, drawn=True))


def overlay_handles(sweep, other, kind: str):
    """Legend items telling this sweep from the compared one: solid and dashed lines
    (``kind`` "line") or filled and hollow markers."""
    from matplotlib.lines import Line2D

    if other is None:
        return [], []
    if kind == "line":
        handles = [Line2D([], [], color="grey", linestyle="-"), Line2D([], [], color="grey", linestyle="--")]
    else:
        handles = [Line2D([], [], color="grey", marker="o", linestyle="none"),
                   Line2D([], [], color="grey", marker="o", markerfacecolor="none", linestyle="none")]
    return handles, [f"this: {sweep.path.name}", f"other: {other.path.name}"]


def integer_x_ticks(ax) -> None:
    """Epochs and steps are whole numbers: ticks only at integers.  Data at a single x
    (one epoch) spans less than one unit, where matplotlib's integer locator gives up and
    labels 0.95, 1.0, 1.05...; there the one integer gets the only tick.  (Judged on the
    data, not the axis: epochs 1 and 2 make an axis of 0.95..2.05, which must keep both.)"""
    from matplotlib.ticker import MaxNLocator

    low, high = ax.dataLim.intervalx
    if high - low < 1:
        middle = round((low + high) / 2)
        ax.set_xlim(middle - 0.5, middle + 0.5)
        ax.set_xticks([middle])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
