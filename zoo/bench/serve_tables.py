"""``zoo bench-serve``'s steps as a table (its own output and ``zoo results``')."""

from __future__ import annotations

import json
from typing import Any

from zoo.bench.infer_tables import format_table
from zoo.bench.tables import COMBINATION
from zoo.registry import natural_key

STEP_HEADERS = ["concurrency", "req/s", "img/s", "p50 ms", "p90 ms", "p99 ms", "errors"]


def _num(value: Any, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)  # NaN: no request succeeded


def _step_cells(step: dict[str, Any]) -> list[str]:
    return [str(step["concurrency"]), _num(step["requests_per_s"], ".1f"), _num(step["images_per_s"], ".1f"),
            _num(step["p50_ms"], ".2f"), _num(step["p90_ms"], ".2f"), _num(step["p99_ms"], ".2f"),
            f"{step['errors']}/{step['requests']}"]


def render_steps(steps: list[dict[str, Any]], fmt: str) -> str:
    """One measurement's steps (``zoo bench-serve``'s own output)."""
    if fmt == "json":
        return json.dumps(steps, indent=2)
    return format_table(STEP_HEADERS, [_step_cells(s) for s in steps], fmt)


def serving_table(serving: list[dict[str, Any]], results: list[dict[str, Any]]
                  ) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: the stored steps of ``results``' cells, beside the combination each
    cell trained (``zoo results --serving`` and the report)."""
    by_cell = {(r["cell"], r["seed"]): r for r in results}
    rows = _joined(serving, by_cell)
    headers = COMBINATION + ["seed", "backend", "device", "max batch", "img/req"] + STEP_HEADERS
    table = [[str(r[c]) for c in COMBINATION] + [str(r["seed"]), r["backend"], r["device"],
                                                 str(r["max_batch"]), str(r["images"])] + _step_cells(r)
             for r in rows]
    return headers, table


def _joined(serving: list[dict[str, Any]], by_cell: dict) -> list[dict[str, Any]]:
    rows = [{**{c: by_cell[(s["cell"], s["seed"])][c] for c in COMBINATION}, **s}
            for s in serving if (s["cell"], s["seed"]) in by_cell]
    rows.sort(key=lambda r: (tuple(natural_key(str(r[c])) for c in COMBINATION), r["seed"],
                             r["backend"], r["device"], r["max_batch"], r["images"], r["concurrency"]))
    return rows


def render(serving: list[dict[str, Any]], results: list[dict[str, Any]], fmt: str) -> str:
    """The stored steps of ``results``' cells, beside the combination each cell trained."""
    if fmt == "json":
        return json.dumps(_joined(serving, {(r["cell"], r["seed"]): r for r in results}), indent=2)
    headers, table = serving_table(serving, results)
    return format_table(headers, table, fmt) if table else ""
