"""Inference rows -> the second table of ``zoo results``: one row per cell, seed, backend
and device, beside the combination the cell trained."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from zoo.bench.tables import COMBINATION
from zoo.registry import natural_key
from zoo.status import Status


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def joined(inference: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inference rows of the given training rows, each with its combination's columns."""
    by_cell = {(r["cell"], r["seed"]): r for r in results}
    out = []
    for row in inference:
        trained = by_cell.get((row["cell"], row["seed"]))
        if trained is not None:
            out.append({**{c: trained[c] for c in COMBINATION}, **row})
    return sorted(out, key=lambda r: (tuple(natural_key(str(r[c])) for c in COMBINATION),
                                      r["seed"], natural_key(r["backend"]), natural_key(r["device"])))


def inference_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows; the batch sizes go into the throughput headers when all rows share them."""
    small = {r["batch_size"] for r in rows if r["batch_size"]}
    large = {r["large_batch"] for r in rows if r["large_batch"]}
    small_h = f"img/s b{small.pop()}" if len(small) == 1 else "img/s small batch"
    large_h = f"img/s b{large.pop()}" if len(large) == 1 else "img/s large batch"
    headers = COMBINATION + ["seed", "backend", "device", "max |diff|", "p50 ms", "p99 ms",
                             small_h, large_h]
    table = []
    for r in rows:
        if r["status"] == Status.SKIPPED:
            numbers = [Status.SKIPPED.value] * 5
        else:
            numbers = [_num(r["max_abs_diff"], ".1e"), _num(r["p50_ms"], ".3f"),
                       _num(r["p99_ms"], ".3f"), _num(r["images_per_s"], ".0f"),
                       _num(r["large_images_per_s"], ".0f")]
        table.append([str(r[c]) for c in COMBINATION] + [str(r["seed"]), r["backend"], r["device"]]
                     + numbers)
    if any(r["status"] != Status.OK for r in rows):
        headers.append("status")
        table = [line + ([r["status"] + (f": {r['reason']}" if r["reason"] else "")]
                         if r["status"] != Status.OK else ["ok"])
                 for line, r in zip(table, rows)]
    return headers, table


def render(inference: list[dict[str, Any]], results: list[dict[str, Any]], fmt: str) -> str:
    """The inference rows of ``results``' cells as ``fmt`` (table, markdown, csv, json)."""
    rows = joined(inference, results)
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if not rows:
        return ""
    return format_table(*inference_table(rows), fmt)


def format_table(headers: list[str], table: list[list[str]], fmt: str) -> str:
    """A table of text cells as csv, markdown or plain text (numbers kept as written)."""
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([headers, *table])
        return buffer.getvalue().rstrip("\n")
    from tabulate import tabulate

    return tabulate(table, headers=headers, disable_numparse=True,
                    tablefmt="github" if fmt == "markdown" else "simple")
