"""The serving side of a sweep: test accuracy against latency at batch 1, from the
inference table `zoo bench-infer` fills (zoo.bench.infer_store)."""

from __future__ import annotations

from zoo.report import points, scheme
from zoo.report.sources import SweepData, status_text

# A serving point is a cell and seed served by a backend on a device.  What serves it
# comes right after the dataset and model, so that with the usual sweep the colour is
# the model (as in acc-vs-time) and the marker the backend; then the other swept axes
# and the seed.
AXES = scheme.SWEEP_AXES[:2] + ["backend", "serving_device"] + scheme.SWEEP_AXES[2:-2] + ["seed"]


def latency_points(sweep: SweepData) -> list[dict]:
    """Measured inference rows joined to their training row (its test accuracy, classes)."""
    trained = {(r["cell"], r["seed"]): r for r in sweep.rows}
    out = []
    for row in sweep.inference:
        cell = trained.get((row["cell"], row["seed"]))
        if (cell is None or status_text(row["status"]) != "ok" or row.get("p50_ms") is None
                or cell.get("test_acc") is None):
            continue
        out.append({**cell, "backend": row["backend"], "serving_device": row["device"],
                    "x": row["p50_ms"], "x_to": row.get("p99_ms"), "y": cell["test_acc"],
                    "num_classes": cell.get("num_classes")})
    return out


def latency_figure(sweep: SweepData):
    """(figure, caption note), or (None, "") when no inference row was measured."""
    found = latency_points(sweep)
    if not found:
        return None, ""
    # Colours and markers agree with acc-vs-time: the order of values comes from every row.
    return points.scatter_figure(found, AXES, sweep.rows, xlabel="latency at batch 1 (ms, p50 to p99)",
                                 ylabel="test accuracy (fraction)",
                                 title="Test accuracy against serving latency, one point per "
                                       "cell, seed, backend and device")
