"""What a rerun finds in its sweep folder: cells with no stored row yet, stored rows this
grid no longer has, and in words what changed for each (settings, parameters, data, code)."""

from __future__ import annotations

import json
from pathlib import Path

from zoo import kinds
from zoo.bench.grid import Cell
from zoo.bench.store import Store


def grid_changes(db: Path, cells: list[Cell]) -> tuple[list[Cell], list[dict]]:
    """Cells with no stored row yet, and stored rows that are not cells of this grid."""
    store = Store(db)
    try:
        rows = store.rows()
    finally:
        store.close()
    have = {(r["cell"], r["seed"]) for r in rows}
    wanted = {(c.key, c.seed) for c in cells}
    return [c for c in cells if (c.key, c.seed) not in have], \
        [r for r in rows if (r["cell"], r["seed"]) not in wanted]


def describe_changes(stale: list[dict], cells: list[Cell], limit: int = 10) -> list[str]:
    """One line per stored result that no longer matches: what changed, or that it left."""
    place = (*(kind.field for kind in kinds.swept()), "nprocs", "device", "seed")
    by_place: dict[tuple, list[Cell]] = {}
    for c in cells:  # several cells of a parameter axis share a place
        by_place.setdefault(tuple(getattr(c, k) for k in place), []).append(c)
    lines = []
    for row in stale[:limit]:
        found = by_place.get(tuple(row[k] for k in place))
        if not found:
            lines.append(f"{row['slug']}: no longer in the grid")
            continue
        # The row's own cell is the one it differs least from (an axis value: none).
        changed = min((_changes(row, cell) for cell in found), key=len)
        lines.append(f"{row['slug']}: {', '.join(changed) or 'settings changed'}")
    if len(stale) > limit:
        lines.append(f"... and {len(stale) - limit} more")
    return lines


def _changes(row: dict, cell: Cell) -> list[str]:
    from zoo.identity import differences

    changed = [f"{k} {row[k]} -> {getattr(cell, k)}"
               for k in ("epochs", "batch_size", "target_acc") if row[k] != getattr(cell, k)]
    if row.get("limit_train") != cell.limit_train:  # None: all training images
        changed.append(f"limit_train {row.get('limit_train') or 'all'} -> {cell.limit_train or 'all'}")
    if (row.get("threads") or 1) != cell.threads:  # rows from before threads were recorded: 1
        changed.append(f"threads {row.get('threads') or 1} -> {cell.threads}")
    # The resolved parameters in the identity also cover --set and registry.toml.
    return changed + differences(json.loads(row["identity"]) if row.get("identity") else None,
                                 cell.identity)
