"""`zoo results --leaderboard`: one row per combination in the columns of a published
leaderboard (timm's results CSVs; issue 19): what varies in the sweep (the model always),
parameters, epochs, seeds, validation and test accuracy with their 95% intervals,
training throughput, and per serving backend its throughput and batch-1 p50 latency
(zoo bench-infer, the median over the seeds' ok measurements), and the training process's
peak memory (the highest of the seeds': zoo.train.memory).  Pure.
"""

from __future__ import annotations

import statistics
from typing import Any

from zoo.registry import natural_key
from zoo.status import Status

SHARED = ["params", "epochs", "seeds", "val acc", "val acc ci low", "val acc ci high", "test acc",
          "test acc ci low", "test acc ci high", "train img/s", "peak rss MiB"]


def _varying(summaries: list[dict[str, Any]], fields: list[str]) -> list[str]:
    return [f for f in fields if f == "model" or len({str(s.get(f)) for s in summaries}) > 1]


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def leaderboard(summaries: list[dict[str, Any]], rows: list[dict[str, Any]],
                inference: list[dict[str, Any]], combination: list[str]) -> tuple[list[str], list[dict]]:
    """(column names, one dict per combination and device with an ok seed, best mean
    validation accuracy first)."""
    keys = _varying(summaries, combination + ["device"])
    backends = sorted({r["backend"] for r in inference if r["status"] == Status.OK}, key=natural_key)
    columns = keys + SHARED + [f"{what} {b}" for b in backends for what in ("infer img/s", "p50 ms")]
    epochs = {r["cell"]: r.get("epochs") for r in rows}
    out = []
    for s in sorted((s for s in summaries if s.get("ok_runs")),
                    key=lambda s: -(s["val_acc"] if s.get("val_acc") is not None else -1)):
        cells = set(str(s.get("cell")).split(","))
        line = {k: s.get(k) for k in keys}
        line.update({"params": s.get("num_params"), "epochs": epochs.get(next(iter(cells))),
                     "seeds": s["ok_runs"], "val acc": s.get("val_acc"),
                     "val acc ci low": s.get("val_acc_ci_low"), "val acc ci high": s.get("val_acc_ci_high"),
                     "test acc": s.get("acc"), "test acc ci low": s.get("acc_ci_low"),
                     "test acc ci high": s.get("acc_ci_high"), "train img/s": s.get("images_per_s"),
                     "peak rss MiB": s.get("peak_rss_mb")})
        for backend in backends:
            mine = [r for r in inference if r["cell"] in cells and r["backend"] == backend
                    and r["status"] == Status.OK]
            line[f"infer img/s {backend}"] = _median([r.get("large_images_per_s") or r.get("images_per_s")
                                                      for r in mine])
            line[f"p50 ms {backend}"] = _median([r.get("p50_ms") for r in mine])
        out.append(line)
    return columns, out


def text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1 else f"{value:.1f}"
    return str(value)
