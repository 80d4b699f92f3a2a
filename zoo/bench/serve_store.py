"""``zoo bench-serve``'s results in a sweep: a third table of results.db, ``serving``.

One row per cell, seed, backend, device, server batching settings, request size and
concurrency step, next to the training row and the ``inference`` rows (``zoo
bench-infer``) of the same cell: what the model costs to train, to run, and to serve over
HTTP.  A step measured again replaces its row.
"""

from __future__ import annotations

from typing import Any

from zoo.bench.store import Store

TABLE = "serving"
KEY = ["cell", "seed", "backend", "device", "max_batch", "max_delay_ms", "images", "datatype",
       "concurrency"]
KEY_TYPES = {"cell": "TEXT", "seed": "INTEGER", "backend": "TEXT", "device": "TEXT",
             "max_batch": "INTEGER", "max_delay_ms": "REAL", "images": "INTEGER", "datatype": "TEXT",
             "concurrency": "INTEGER"}
VALUE_COLUMNS = {
    "slug": "TEXT", "model_name": "TEXT", "export_dir": "TEXT", "requests": "INTEGER",
    "errors": "INTEGER", "seconds": "REAL", "requests_per_s": "REAL", "images_per_s": "REAL",
    "p50_ms": "REAL", "p90_ms": "REAL", "p99_ms": "REAL", "first_error": "TEXT",
    "error_kinds": "TEXT",  # JSON {"HTTP 500": 1, "ReadTimeout": 2}: the errors counted by kind
    "host": "TEXT",
    "zoo_version": "TEXT", "measured_at": "TEXT",
}
SCHEMA = (f"CREATE TABLE IF NOT EXISTS {TABLE} ("
          f"{', '.join(f'{name} {kind} NOT NULL' for name, kind in KEY_TYPES.items())}, "
          f"{', '.join(f'{name} {kind}' for name, kind in VALUE_COLUMNS.items())}, "
          f"PRIMARY KEY ({', '.join(KEY)}))")


def serving_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored step ([] for a sweep that was never measured with zoo bench-serve)."""
    found = store._guard("read", lambda: store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone())
    if found is None:
        return []
    return store._guard("read", lambda: [dict(row) for row in store.db.execute(
        f"SELECT * FROM {TABLE} ORDER BY rowid")])


def record_steps(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert or replace the steps of one measurement in one transaction."""
    for row in rows:
        unknown = set(row) - set(KEY_TYPES) - set(VALUE_COLUMNS)
        if unknown or set(KEY) - set(row):
            raise ValueError(f"serving row: unknown {sorted(unknown)}, missing {sorted(set(KEY) - set(row))}")

    def write():
        with store.db:
            store.db.execute("BEGIN IMMEDIATE")
            store.db.execute(SCHEMA)
            have = {row[1] for row in store.db.execute(f"PRAGMA table_info({TABLE})")}
            for name in VALUE_COLUMNS.keys() - have:  # a table made by an older zoo
                store.db.execute(f"ALTER TABLE {TABLE} ADD COLUMN {name} {VALUE_COLUMNS[name]}")
            for row in rows:
                store.db.execute(f"INSERT OR REPLACE INTO {TABLE} ({', '.join(row)}) "
                                 f"VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    store._guard("write", write)
