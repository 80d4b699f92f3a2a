"""What a figure really shows, read back from its matplotlib objects (not from the PNG).

The report records this beside every PNG (a JSON block in the page), so that a test, or a
user's script, can check what was drawn: the panels with their titles, axis labels, scales
and limits; each line's points, colour, marker and style; bars, images, texts and the
legends' entries.  It is read from the artists, not from what the drawing code meant to
draw, so a figure drawn empty is described as empty.

Lines carry a ``gid`` naming what they stand for (``cell=<slug> seed=<n>``, ``chance``,
``pareto``, ...); the drawing code sets it, the description only reports it.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Past this many points a line is summed up (count, ends, range) rather than listed,
# so that a run of 100,000 steps does not make the page heavy.
MAX_POINTS = 1000


def _num(value: Any) -> Any:
    value = float(value)
    return value if math.isfinite(value) else None  # JSON has no NaN


def _hex(colour) -> str | None:
    from matplotlib.colors import to_hex

    try:
        return to_hex(colour, keep_alpha=False)
    except (ValueError, TypeError):
        return None  # "none" (a hollow marker)


def _points(values) -> list:
    return [_num(v) for v in values]


def _line(line) -> dict[str, Any]:
    xs, ys = (list(v) for v in line.get_data(orig=True))
    described = {"gid": line.get_gid(), "label": line.get_label(), "n": len(xs),
                 "colour": _hex(line.get_color()), "marker": str(line.get_marker()),
                 "linestyle": str(line.get_linestyle()),
                 "facecolour": _hex(line.get_markerfacecolor()), "alpha": line.get_alpha()}
    if len(xs) <= MAX_POINTS:
        described.update(x=_points(xs), y=_points(ys))
    else:
        finite = [float(y) for y in ys if math.isfinite(float(y))]
        described.update(x_ends=_points([xs[0], xs[-1]]), y_ends=_points([ys[0], ys[-1]]),
                         y_range=[min(finite), max(finite)] if finite else None)
    return described


def _legend(legend) -> dict[str, Any]:
    title = legend.get_title().get_text()
    handles = getattr(legend, "legend_handles", None) or getattr(legend, "legendHandles", [])
    entries = []
    for text, handle in zip(legend.get_texts(), handles):
        entry = {"text": text.get_text()}
        if hasattr(handle, "get_marker"):
            entry.update(colour=_hex(handle.get_color()), marker=str(handle.get_marker()),
                         linestyle=str(handle.get_linestyle()),
                         facecolour=_hex(handle.get_markerfacecolor()))
        elif hasattr(handle, "get_facecolor"):  # a patch (bars)
            entry.update(colour=_hex(handle.get_facecolor()))
        entries.append(entry)
    return {"title": title, "entries": entries}


def _bars(ax) -> list[dict[str, Any]]:
    from matplotlib.patches import Rectangle

    return [{"gid": p.get_gid(), "x": _num(p.get_x()), "y": _num(p.get_y()), "width": _num(p.get_width()),
             "height": _num(p.get_height()), "colour": _hex(p.get_facecolor())}
            for p in ax.patches if isinstance(p, Rectangle)]


def _axes(ax) -> dict[str, Any]:
    described = {"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                 "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
                 "xlim": _points(ax.get_xlim()), "ylim": _points(ax.get_ylim()),
                 "xticks": _points(t for t in ax.get_xticks()
                                   if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]),
                 "yticklabels": [t.get_text() for t in ax.get_yticklabels()],
                 "lines": [_line(line) for line in ax.lines],
                 "bars": _bars(ax),
                 "texts": [t.get_text() for t in ax.texts],
                 "images": [list(image.get_array().shape) for image in ax.images]}
    if ax.get_legend() is not None:
        described["legend"] = _legend(ax.get_legend())
    return described


def describe(fig, drawn: bool = False) -> dict[str, Any]:
    """The panels (visible axes that are not colour bars) and the figure's legends.

    ``drawn``: the figure was just rendered (its PNG saved), so ticks and limits are
    those the PNG shows; else it is drawn once first (a draw costs as much as the PNG)."""
    if not drawn:
        fig.canvas.draw()
    colourbars = {id(getattr(image.colorbar, "ax", None)) for ax in fig.axes for image in ax.images
                  if getattr(image, "colorbar", None) is not None}
    panels = [ax for ax in fig.axes if ax.get_visible() and id(ax) not in colourbars]
    return {"panels": [_axes(ax) for ax in panels],
            "colourbars": [ax.get_ylabel() for ax in fig.axes if id(ax) in colourbars],
            "legends": [_legend(legend) for legend in fig.legends]}


def to_json(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survives as itself, so a
    name holding markup (or '</script>') stays text."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
