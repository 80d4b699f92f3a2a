"""How a cell ended: its status from how its processes exited and what it recorded, and
the store's result columns from its metrics.  Pure functions, tested on plain data."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

from zoo.status import Status


def classify(outcome, metrics: dict | None, timeout: float | None, log: Path) -> tuple[Status, str]:
    """A cell's status from how its processes ended and what its leader recorded."""
    if outcome.timed_out:
        return Status.TIMEOUT, f"exceeded --cell-timeout {timeout:g} s; process group killed"
    if outcome.stopped:
        return Status.INTERRUPTED, "sweep interrupted; rerun to resume"
    status = (metrics or {}).get("status")
    ended = {Status.OK, Status.DIVERGED, Status.FAILED, Status.INTERRUPTED, Status.PAUSED}
    if status in ended and not (status in (Status.OK, Status.PAUSED) and outcome.returncode):
        return Status(status), (metrics or {}).get("reason", "")
    code = outcome.returncode
    how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exited with code {code}")
    detail = last_error_line(log)
    return Status.FAILED, f"worker {how}" + (f": {detail}" if detail else "")


def result_values(metrics: dict | None) -> dict[str, Any]:
    """The store's result columns from a cell's metrics.json (empty if it left none)."""
    if not metrics:
        return {}
    epochs = metrics.get("epochs") or []
    last = (epochs or [{}])[-1]
    test = metrics.get("test") or {}
    val = [e["val_acc"] for e in epochs if isinstance(e.get("val_acc"), (int, float))]
    values = {"epochs_done": len(metrics.get("epochs") or []), "train_loss": last.get("train_loss"),
              "train_acc": last.get("train_acc"), "val_loss": last.get("val_loss"),
              "val_acc": last.get("val_acc"), "test_loss": test.get("loss"),
              "test_acc": test.get("acc"), "train_time": metrics.get("train_time"),
              "images_per_s": metrics.get("images_per_s"),
              "time_to_target": metrics.get("time_to_target"),
              "best_val_acc": max(val) if val else None, "num_params": metrics.get("num_params"),
              "peak_rss_mb": metrics.get("peak_rss_mb")}
    if isinstance(metrics.get("elapsed"), (int, float)):
        # The cell's own account, summed over every session that contributed to it.
        startup = float(metrics.get("startup") or 0.0)
        values.update(wall_time=float(metrics["elapsed"]) + startup, startup_time=startup)
    return values


def last_error_line(log_file: Path, limit: int = 64_000) -> str:
    """The most telling line of a worker log: the last error, else the last line."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - limit))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error:" in line or "Killed" in line:
            return line[:300]
    # Else the last line that is not noise: Python warnings (paddle's "No ccache found"
    # and its "warnings.warn(...)" source line) and glog INFO/WARNING lines said nothing
    # about why a worker died, yet used to become the reason of every exit-code failure.
    for line in reversed(lines):
        if not (_NOISE.search(line) or line.startswith("warnings.warn(")):
            return line[:300]
    return ""


_NOISE = re.compile(r"Warning: |^[IW]\d{4} \d\d:\d\d:\d\d")
