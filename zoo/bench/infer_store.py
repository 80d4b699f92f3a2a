"""The inference results of a sweep: a second table in the same results.db.

One row per cell, seed, backend and device (``zoo bench-infer``), next to the training
rows they belong to, so a run directory holds both what a model costs to train and what
it costs to serve.  Written and read through ``Store``'s connection and error handling.
"""

from __future__ import annotations

import json
from typing import Any

from zoo.bench.store import Store

TABLE = "inference"
KEY = ["cell", "seed", "backend", "device"]
VALUE_COLUMNS = {
    "slug": "TEXT", "backend_params": "TEXT", "status": "TEXT", "reason": "TEXT",
    "export_format": "TEXT", "export_dir": "TEXT", "images_checked": "INTEGER",
    "max_abs_diff": "REAL", "classes_differ": "INTEGER", "requests": "INTEGER",
    "p50_ms": "REAL", "p99_ms": "REAL", "batch_size": "INTEGER", "images_per_s": "REAL",
    "large_batch": "INTEGER", "large_images_per_s": "REAL", "paddle_version": "TEXT",
    "host": "TEXT", "zoo_version": "TEXT", "measured_at": "TEXT",
}
SCHEMA = (f"CREATE TABLE IF NOT EXISTS {TABLE} (cell TEXT NOT NULL, seed INTEGER NOT NULL, "
          f"backend TEXT NOT NULL, device TEXT NOT NULL, "
          f"{', '.join(f'{name} {kind}' for name, kind in VALUE_COLUMNS.items())}, "
          f"PRIMARY KEY ({', '.join(KEY)}))")


def ensure_table(store: Store) -> None:
    store._guard("write", lambda: store.db.execute(SCHEMA))


def has_table(store: Store) -> bool:
    found = store._guard("read", lambda: store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone())
    return found is not None


def inference_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored inference row ([] for a sweep that was never benchmarked for inference)."""
    if not has_table(store):
        return []
    return store._guard("read", lambda: [dict(row) for row in store.db.execute(
        f"SELECT * FROM {TABLE} ORDER BY rowid")])


def find(store: Store, cell: str, seed: int, backend: str, device: str) -> dict[str, Any] | None:
    found = store._guard("read", lambda: store.db.execute(
        f"SELECT * FROM {TABLE} WHERE cell = ? AND seed = ? AND backend = ? AND device = ?",
        (cell, seed, backend, device)).fetchone())
    return dict(found) if found else None


def record(store: Store, cell: str, seed: int, backend: str, device: str, **values: Any) -> None:
    """Insert or replace one row in one transaction."""
    unknown = set(values) - set(VALUE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown inference columns: {sorted(unknown)}")
    if isinstance(values.get("backend_params"), dict):
        values["backend_params"] = json.dumps(values["backend_params"], sort_keys=True)
    data = {"cell": cell, "seed": seed, "backend": backend, "device": device, **values}
    columns, marks = ", ".join(data), ", ".join("?" for _ in data)

    def write():
        with store.db:
            store.db.execute("BEGIN IMMEDIATE")
            store.db.execute(f"INSERT OR REPLACE INTO {TABLE} ({columns}) VALUES ({marks})",
                             list(data.values()))
    store._guard("write", write)
