"""What a search or a pruned sweep adds to a report (pure: no matplotlib, no Optuna).

Every sweep is a search of its space, whatever chose its cells (a grid, a sampler) and
whether a pruner stopped some: the cells in the order they ended, what each cost in
epochs, the best validation accuracy found so far, and the best cells with the settings
that vary.  A cell's accuracy is its final validation accuracy (``val_acc``), the one
``zoo results --best`` ranks by; a pruned cell's is the one where it stopped, shown but
never counted as found (its final accuracy is unknown), as Optuna counts only complete
trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo import kinds
from zoo.report.sources import SweepData, status_kind, status_text

BEST_SHOWN = 10  # rows of the best-cells table
# Fields that tell cells apart besides the parameter axes: the swept kinds' entries.
KIND_FIELDS = [kind.field for kind in kinds.swept()]


def ended(sweep: SweepData) -> list[dict[str, Any]]:
    """Rows that trained at least one epoch and ended (any status but running and
    skipped), in the order they ended (``ended_at``; ties and rows without it keep the
    store's order, which is the grid's)."""
    rows = [r for r in sweep.rows if status_kind(r["status"]) not in ("running", "skipped")
            and int(r.get("epochs_done") or 0) > 0]
    return sorted(rows, key=lambda r: r.get("ended_at") or "")


def counts_as_found(row: dict[str, Any]) -> bool:
    return status_kind(row["status"]) == "ok" and row.get("val_acc") is not None


@dataclass
class HistoryPoint:
    row: dict[str, Any]
    spent: int  # epochs trained by every cell ended so far, this one included
    acc: float | None  # the cell's own final (or, pruned, last) validation accuracy
    best: float | None  # the best found so far (cells that finished ok)


def history(sweep: SweepData) -> list[HistoryPoint]:
    found, spent, best = [], 0, None
    for row in ended(sweep):
        spent += int(row.get("epochs_done") or 0)
        if counts_as_found(row):
            best = row["val_acc"] if best is None else max(best, row["val_acc"])
        found.append(HistoryPoint(row, spent, row.get("val_acc"), best))
    return found


def shows_history(points: list[HistoryPoint]) -> bool:
    """More than one ended cell, and something found: else there is no history to tell."""
    return len(points) > 1 and any(p.best is not None for p in points)


def axis_text(axis: str, value: Any) -> str:
    """``optimizer.learning_rate`` 0.01 -> ``learning_rate=0.01``; ``epochs`` 4 -> ``epochs=4``."""
    return f"{axis.rpartition('.')[2]}={'-' if value is None else format_value(value)}"


def format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings(row: dict[str, Any], axes: list[str]) -> dict[str, Any]:
    """A row's swept entries and axis values (the axes a sweep records), by name."""
    from zoo.bench.tables import axis_value

    return {**{f: row.get(f) for f in KIND_FIELDS}, **{a: axis_value(row, a) for a in axes}}


def varying_settings(rows: list[dict[str, Any]], axes: list[str]) -> list[str]:
    """The swept kinds and axes that take more than one value over ``rows``."""
    every = [settings(r, axes) for r in rows]
    names = KIND_FIELDS + list(axes)
    return [n for n in names if len({repr(s.get(n)) for s in every}) > 1]


def name_of(row: dict[str, Any], names: list[str], axes: list[str]) -> str:
    """The values of ``names`` for a row: ``adam, cosine, learning_rate=0.003``."""
    values = settings(row, axes)
    return ", ".join(axis_text(n, values[n]) if n in axes else str(values[n]) for n in names)


def epochs_text(row: dict[str, Any]) -> str:
    return f"{int(row.get('epochs_done') or 0)} of {row.get('epochs')}"


def best_rows(sweep: SweepData, limit: int = BEST_SHOWN) -> tuple[list[str], list[list[str]], int]:
    """The best cells by validation accuracy: (headers, rows, how many had one).

    Ranked like ``zoo results --best`` (final validation accuracy, higher first; ties to
    the lower wall time); pruned cells take part with the accuracy where they stopped,
    their epochs column saying how far that was."""
    rows = [r for r in sweep.rows if r.get("val_acc") is not None]
    names = varying_settings(sweep.rows, sweep.axes) or ["model"]
    seeds = len({r["seed"] for r in sweep.rows}) > 1
    ranked = sorted(rows, key=lambda r: (-r["val_acc"], r.get("wall_time") or 0.0))
    headers = ["#"] + names + (["seed"] if seeds else []) + ["val acc", "best val acc",
                                                             "epochs trained", "status"]
    table = []
    for place, row in enumerate(ranked[:limit], start=1):
        values = settings(row, sweep.axes)
        table.append([str(place)] + ["-" if values[n] is None else format_value(values[n]) for n in names]
                     + ([str(row["seed"])] if seeds else [])
                     + [f"{row['val_acc']:.4f}",
                        "-" if row.get("best_val_acc") is None else f"{row['best_val_acc']:.4f}",
                        epochs_text(row), status_text(row["status"])])
    return headers, table, len(rows)
