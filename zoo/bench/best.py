"""Picking the winner of a sweep honestly: by validation accuracy, never by test accuracy.

Choosing a model on its test accuracy and then reporting that accuracy is the classic
benchmark sin: the test split stops being unseen.  So the winner is the combination
with the highest (mean over its ok seeds) final validation accuracy, the accuracy of
the very checkpoint that is tested and exported; ``--by`` may rank by speed instead.
Pure functions over ``zoo.bench.tables.summarize``'s summaries and the store's rows:
``zoo results --best``, ``zoo export DIR --best`` and the report's mark all call them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.layout import CELLS
from zoo.registry import natural_key
from zoo.status import Status

# --by NAME -> (summary key, a higher value wins, what it is, for messages)
CRITERIA = {
    "val_acc": ("val_acc", True, "final validation accuracy"),
    "time_to_target": ("time_to_target", False, "time to the target validation accuracy"),
    "images_per_s": ("images_per_s", True, "training images per second"),
    "time": ("time", False, "wall time"),
}
DEFAULT_BY = "val_acc"
MARK = "(best)"


def cell_folder(row: dict[str, Any]) -> str | None:
    """The row's cell folder relative to the sweep folder: the runner writes every cell to
    ``DIR/cells/<slug>``, so this stays true when the sweep folder is moved or copied."""
    return f"{CELLS}/{row['slug']}" if row.get("slug") else None


def _value(summary: dict[str, Any], key: str) -> float | None:
    value = summary.get(key)
    ok = summary.get("ok_runs", 0) > 0 and isinstance(value, (int, float)) and math.isfinite(value)
    return float(value) if ok else None


def ranked(summaries: list[dict[str, Any]], by: str = DEFAULT_BY) -> list[dict[str, Any]]:
    """The summaries that have a value for ``by`` (over ok seeds), best first.

    Ties go to the faster combination (lower wall time), then to the first in
    combination order, so the pick never depends on the order rows were stored in."""
    key, higher, _ = _criterion(by)
    eligible = [s for s in summaries if _value(s, key) is not None]

    def order(s: dict[str, Any]):
        value = _value(s, key)
        time = _value(s, "time")
        return (-value if higher else value, math.inf if time is None else time,
                tuple(natural_key(str(s.get(c))) for c in ("cell", "device")))
    return sorted(eligible, key=order)


def pick(summaries: list[dict[str, Any]], by: str = DEFAULT_BY) -> dict[str, Any]:
    """The winning summary, or a one-line error saying why there is none."""
    order = ranked(summaries, by)
    if not order:
        _, _, what = _criterion(by)
        hint = {"val_acc": " (is the validation split empty, dataset.val_fraction=0?)",
                "time_to_target": " (zoo bench --target-acc A records it)"}.get(by, "")
        raise ZooError(f"no finished (ok) cell has a {what} to pick the best by{hint}")
    return order[0]


def marked(summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The combination a results table marks ``(best)``: ``pick``'s, or none when no cell
    has a validation accuracy yet."""
    try:
        return pick(summaries)
    except ZooError:
        return None


def best_seed(summary: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored row (one seed) of ``summary``'s cell that ``zoo export --best`` exports:
    its ok seed with the highest final validation accuracy (ties: the lowest seed)."""
    mine = [r for r in rows if r.get("cell") == summary["cell"] and r["status"] == Status.OK]
    if not mine:
        raise ZooError(f"cell {summary['cell']} has no ok run to export")

    def order(r: dict[str, Any]):
        acc = r.get("val_acc")
        return -(acc if isinstance(acc, (int, float)) and math.isfinite(acc) else -math.inf)
    return sorted(mine, key=lambda r: (order(r), r.get("seed") or 0))[0]


def winner_folder(sweep_dir: Path, summaries: list[dict[str, Any]], rows: list[dict[str, Any]],
                  by: str = DEFAULT_BY) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """(the winner's cell folder, its summary, the exported seed's row) of a sweep."""
    summary = pick(summaries, by)
    row = best_seed(summary, rows)
    from zoo.bench.store import cell_folder as folder_inside  # checks it lies inside the sweep
    return folder_inside(Path(sweep_dir), row), summary, row


def is_winner(summary: dict[str, Any], winner: dict[str, Any] | None) -> bool:
    return winner is not None and all(summary.get(k) == winner.get(k) for k in ("cell", "device"))


def _criterion(by: str) -> tuple[str, bool, str]:
    if by not in CRITERIA:
        raise ZooError(f"--by {by}: unknown criterion (choose from {', '.join(CRITERIA)}; "
                       f"test accuracy is never one: picking on the test split spoils it)")
    return CRITERIA[by]
