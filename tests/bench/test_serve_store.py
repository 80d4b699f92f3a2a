"""``zoo bench-serve``'s table in a sweep's results.db (zoo/bench/serve_store.py): the
errors counted by kind, also in a table an older zoo made without that column."""

from __future__ import annotations

import json
import sqlite3

from zoo.bench.serve_store import KEY_TYPES, TABLE, VALUE_COLUMNS, record_steps, serving_rows
from zoo.bench.store import Store


def step_row(concurrency: int, **values) -> dict:
    key = {"cell": "c0", "seed": 0, "backend": "paddle-inference", "device": "cpu", "max_batch": 64,
           "max_delay_ms": 2.0, "images": 1, "datatype": "FP32", "concurrency": concurrency}
    return {**key, "requests": 10, "errors": 2, "first_error": "ReadError: (sent 1.0 s into the step)",
            "error_kinds": json.dumps({"ReadError": 2}), **values}


def test_an_older_table_gains_the_error_kinds_column(tmp_path):
    db = sqlite3.connect(tmp_path / "results.db")
    older = {name: kind for name, kind in VALUE_COLUMNS.items() if name != "error_kinds"}
    db.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{n} {k}' for n, k in {**KEY_TYPES, **older}.items())}, "
               f"PRIMARY KEY ({', '.join(KEY_TYPES)}))")
    db.commit()
    db.close()
    store = Store(tmp_path / "results.db")
    try:
        record_steps(store, [step_row(1), step_row(2, errors=0, first_error="", error_kinds="{}")])
        rows = serving_rows(store)
    finally:
        store.close()
    assert [(r["concurrency"], json.loads(r["error_kinds"])) for r in rows] == [(1, {"ReadError": 2}), (2, {})]
    assert rows[0]["first_error"].startswith("ReadError")
