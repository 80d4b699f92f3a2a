"""`zoo bench --target-from DIR`: targets that are not cherry-picked (AlgoPerf's rule).

A workload's target (dataset x model x device) is the median, over its seeds, of the best
validation accuracy of the best configuration an earlier sweep DIR found on that same
workload: the best by mean final validation accuracy (zoo.bench.best, never test), its
reruns being its ok seeds.  Each cell then carries the target and where it came from in
its identity (so another source is another row) and the store's ``target_from`` column.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

WORKLOAD = ("dataset", "model", "device")


def _workload(item: Any) -> tuple:
    get = item.get if isinstance(item, dict) else lambda f: getattr(item, f)
    return tuple(get(f) for f in WORKLOAD)


def _name(workload: tuple) -> str:
    return "/".join(str(v) for v in workload)


def targets_from(summaries: list[dict[str, Any]], rows: list[dict[str, Any]],
                 source: str) -> dict[tuple, dict[str, Any]]:
    """workload -> {"target": the median best validation accuracy of the best
    configuration's seeds, "from": one line saying where it came from} (pure)."""
    from zoo.bench.best import pick

    found = {}
    for workload in sorted({_workload(s) for s in summaries}, key=lambda w: tuple(map(str, w))):
        mine = [s for s in summaries if _workload(s) == workload]
        try:
            best = pick(mine)
        except ZooError:
            continue  # nothing ok there: no target from this workload
        seeds = [r for r in rows if r.get("cell") == best["cell"] and r["status"] == "ok"]
        # The best accuracy of any epoch (AlgoPerf's), the final one for rows from before
        # it was recorded.
        values = [r["best_val_acc"] if r.get("best_val_acc") is not None else r.get("val_acc")
                  for r in seeds]
        values = [v for v in values if v is not None]
        if not values:
            continue
        target = statistics.median(values)
        config = ", ".join(f"{k}={best[k]}" for k in ("optimizer", "schedule", "regularizer", "launch")
                           if best.get(k) is not None)
        found[workload] = {"target": round(target, 6),
                           "from": f"median best val acc {target:.4f} of {len(values)} seed(s) of "
                                   f"{_name(workload)} with {config} in {source}"}
    return found


def read_targets(run_dir: Path) -> dict[tuple, dict[str, Any]]:
    """targets_from over a sweep folder's latest grid (what `zoo results DIR` shows)."""
    from zoo.bench.store import open_existing
    from zoo.bench.tables import summarize

    store = open_existing(run_dir)
    try:
        rows, _ = store.grid_rows()
    finally:
        store.close()
    return targets_from(summarize(rows), rows, str(run_dir.absolute()))


def with_targets(cells: list, run_dir: str | None, target_acc: float | None) -> tuple[list, list[str]]:
    """The cells with their workload's target from ``run_dir`` (``zoo bench
    --target-from``), and the lines that show each target and its source."""
    if run_dir is None:
        return cells, []
    if target_acc is not None:
        raise ZooError("--target-from and --target-acc both set the target: give one")
    found = read_targets(Path(run_dir))
    missing = sorted({_name(_workload(c)) for c in cells if _workload(c) not in found})
    if missing:
        raise ZooError(f"--target-from {run_dir}: no ok result with a validation accuracy for "
                       f"{', '.join(missing)} (a workload is {' x '.join(WORKLOAD)})")
    out = []
    for cell in cells:
        target = found[_workload(cell)]
        out.append(replace(cell, target_acc=target["target"],
                           identity={**cell.identity, "target_from": target["from"]}))
    used = sorted({_workload(c) for c in cells}, key=lambda w: tuple(map(str, w)))
    return out, [f"target {found[w]['target']:g} for {_name(w)}: {found[w]['from']}" for w in used]
