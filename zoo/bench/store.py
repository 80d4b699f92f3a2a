"""The results store: one SQLite row per cell and seed, written in transactions.

SQLite survives a killed process without losing committed rows, and ``zoo results``
can read it while a sweep is still running.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zoo.bench.grid import Cell

AXIS_COLUMNS = ["model", "optimizer", "schedule", "regularizer", "launch", "nprocs", "device",
                "dataset", "epochs", "batch_size", "seed"]
RESULT_COLUMNS = ["status", "reason", "epochs_done", "train_loss", "train_acc", "val_loss",
                  "val_acc", "test_loss", "test_acc", "wall_time", "train_time", "images_per_s",
                  "time_to_target", "paddle_version", "host", "zoo_version", "git_rev",
                  "started_at", "ended_at", "cell_dir"]
FINISHED = ("ok", "diverged", "failed", "timeout", "skipped")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS results (
    cell TEXT NOT NULL,
    slug TEXT NOT NULL,
    {", ".join(f"{c} {'INTEGER' if c in ('nprocs', 'epochs', 'batch_size', 'seed') else 'TEXT'}"
               for c in AXIS_COLUMNS)},
    params TEXT NOT NULL,
    target_acc REAL,
    {", ".join(f"{c} {'REAL' if c not in ('status', 'reason', 'paddle_version', 'host', 'zoo_version', 'git_rev', 'started_at', 'ended_at', 'cell_dir', 'epochs_done') else 'TEXT'}"
               for c in RESULT_COLUMNS)},
    PRIMARY KEY (cell, seed)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def rows(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute("SELECT * FROM results ORDER BY rowid")]

    def row(self, cell: Cell) -> dict[str, Any] | None:
        found = self.db.execute("SELECT * FROM results WHERE cell = ? AND seed = ?",
                                (cell.key, cell.seed)).fetchone()
        return dict(found) if found else None

    def record(self, cell: Cell, **values: Any) -> None:
        """Insert or update the cell's row in one transaction."""
        unknown = set(values) - set(RESULT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}")
        axes = {c: getattr(cell, c) for c in AXIS_COLUMNS}
        data = {"cell": cell.key, "slug": cell.slug, **axes,
                "params": json.dumps(cell.params, sort_keys=True), "target_acc": cell.target_acc,
                **values}
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values) or "slug = excluded.slug"
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(f"INSERT INTO results ({columns}) VALUES ({marks}) "
                            f"ON CONFLICT (cell, seed) DO UPDATE SET {updates}", list(data.values()))

    def delete(self, cells: Iterable[Cell]) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("DELETE FROM results WHERE cell = ? AND seed = ?",
                                [(c.key, c.seed) for c in cells])

    def get_meta(self, key: str) -> Any:
        found = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(found[0]) if found else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.db:
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                            "DO UPDATE SET value = excluded.value", (key, json.dumps(value)))


def open_existing(run_dir: Path) -> Store:
    from zoo.errors import ZooError

    path = run_dir / "results.db"
    if not path.is_file():
        raise ZooError(f"{run_dir}: no results.db here (not a zoo bench run directory)")
    try:
        store = Store(path)
        store.rows()
    except sqlite3.DatabaseError as exc:
        raise ZooError(f"{path}: not a readable results database ({exc})") from None
    return store
