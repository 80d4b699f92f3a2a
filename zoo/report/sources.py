"""What a report reads: a run's metrics.json and VisualDL scalars, a sweep's stored rows
and each cell's metrics.json.  Nothing here draws.

Rows are used as dicts by column name, and only the columns named here, so the store can
gain columns without this module noticing.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import layout
from zoo.errors import ReportError, ZooError, one_line
from zoo.layout import RunDir, SweepDir

# How the report treats each status the store can hold.  Looked up by value, so that the
# planned ``str`` Enum of statuses works unchanged (an Enum member hashes by its name).
STATUS_KINDS = {"ok": "ok", "diverged": "problem", "failed": "problem", "timeout": "problem",
                "interrupted": "problem", "skipped": "skipped", "running": "running",
                "pruned": "pruned"}


def status_text(status: Any) -> str:
    return str(getattr(status, "value", status))


def status_kind(status: Any) -> str:
    """'ok', 'problem', 'skipped', 'pruned' or 'running'; a status this code does not know is a problem."""
    return STATUS_KINDS.get(status_text(status), "problem")


class ReportWarning(UserWarning):
    """Something the report had to leave out; printed as ``zoo: warning: ...``."""


@dataclass
class RunData:
    path: Path
    job: dict[str, Any]
    metrics: dict[str, Any]  # empty until the run has finished its first epoch
    scalars: dict[str, tuple[list[int], list[float]]]  # VisualDL tag -> (steps, values)
    confusion: list[list[int]] | None = None
    class_names: list[str] = field(default_factory=list)  # the dataset's, for the confusion matrix
    per_class: list[dict[str, Any]] = field(default_factory=list)  # precision, recall, F1
    confusion_source: str = ""
    confusion_note: str = ""

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return list(self.metrics.get("epochs") or [])


@dataclass
class SweepData:
    path: Path
    rows: list[dict[str, Any]]  # the rows `zoo results` summarizes
    left_out: int  # stored rows of older grids, left out as `zoo results` leaves them out
    epochs: dict[tuple, list[dict[str, Any]]] = field(default_factory=dict)  # (cell, seed) ->
    inference: list[dict[str, Any]] = field(default_factory=list)  # `zoo bench-infer` rows
    serving: list[dict[str, Any]] = field(default_factory=list)  # `zoo bench-serve` steps
    axes: list[str] = field(default_factory=list)  # the grid's varied parameters: columns

    def epochs_of(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        return self.epochs.get((row["cell"], row["seed"]), [])


def with_other(sweep: SweepData, other: SweepData | None) -> list[tuple[SweepData, bool]]:
    """(sweep, is the compared one) for a sweep and the one ``--compare`` names, if any."""
    return [(sweep, False)] + ([(other, True)] if other is not None else [])


def kind_of(path: Path) -> str:
    """'run' or 'sweep', or a one-line error saying why ``path`` is neither."""
    if not path.exists():
        raise ReportError(f"{path}: no such directory")
    if not path.is_dir():
        raise ReportError(f"{path}: not a directory (give a run directory or a bench run directory)")
    if SweepDir(path).is_sweep():
        return "sweep"
    if RunDir(path).is_run():
        return "run"
    raise ReportError(f"{path}: neither a run directory (no {layout.METRICS} or {layout.JOB}) nor a "
                      f"bench run directory (no {layout.RESULTS_DB})")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable ({one_line(exc)})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a JSON object")
    return data


def read_scalars(vdl_dir: Path, prefix: str = "train/") -> dict[str, tuple[list[int], list[float]]]:
    """Per-step scalars of every VisualDL log in ``vdl_dir``, merged by step.

    A resumed run adds a log file per session; names sort by creation time, so a step
    logged again after a resume takes the later value."""
    if not vdl_dir.is_dir():
        return {}
    from visualdl import LogReader

    merged: dict[str, dict[int, float]] = {}
    for log in sorted(vdl_dir.glob("vdlrecords.*.log")):
        try:
            reader = LogReader(file_path=str(log))
            tags = [t for t in reader.get_tags().get("scalar", []) if t.startswith(prefix)]
            for tag in tags:
                for record in reader.get_data("scalar", tag):
                    merged.setdefault(tag, {})[int(record.id)] = float(record.value)
        except Exception as exc:  # noqa: BLE001 - a log cut short by a kill must not lose the rest
            warnings.warn(ReportWarning(f"{log}: unreadable VisualDL log left out ({one_line(exc)})"))
    return {tag: (sorted(points), [points[s] for s in sorted(points)])
            for tag, points in merged.items()}


def load_run(path: Path) -> RunData:
    run = RunDir(path)
    metrics = _read_json(run.metrics_file) or {}
    job = metrics.get("job") or _read_json(run.job_file) or {}
    scalars = read_scalars(run.vdl)
    if not metrics.get("epochs") and not scalars:
        raise ReportError(f"{path}: the run has logged nothing yet (no finished step or epoch)")
    return RunData(path=path, job=job, metrics=metrics, scalars=scalars)


def add_confusion(run: RunData, catalog, data_dir: str | None = None) -> None:
    """The test set's confusion matrix from the run's newest good checkpoint.

    Evaluated now rather than stored by training: it works for every run ever trained,
    and a run is small enough to evaluate in seconds.  When it cannot be had (no
    checkpoint yet, data moved) the report says why instead of failing."""
    from zoo.train.restore import evaluate_checkpoint

    try:
        result = evaluate_checkpoint(catalog, run.path, "test", data_dir=data_dir)
    except ZooError as exc:
        run.confusion_note = f"no confusion matrix: {one_line(exc)}"
        warnings.warn(ReportWarning(run.confusion_note))
        return
    run.confusion = result["confusion"]
    run.class_names, run.per_class = result["class_names"], result["per_class"]
    run.confusion_source = result["checkpoint"]


def cell_metrics_file(sweep_dir: Path, row: dict[str, Any]) -> Path:
    """The cell's metrics.json in this sweep directory, also after it was moved or copied."""
    from zoo.bench.store import StoreError, cell_folder

    try:
        return RunDir(cell_folder(sweep_dir, row)).metrics_file
    except StoreError as exc:
        raise ReportError(str(exc)) from None


def load_sweep(path: Path) -> SweepData:
    from zoo.bench.infer_store import inference_rows
    from zoo.bench.serve_store import serving_rows
    from zoo.bench.store import open_existing

    # The same selection `zoo results` makes, so that the page's numbers are its numbers.
    store = open_existing(path)
    try:
        rows, left_out = store.grid_rows()
        axes = store.get_meta("axes") or []
        inference = inference_rows(store)
        serving = serving_rows(store)
    finally:
        store.close()
    if not rows:
        older = f" ({left_out} stored results belong to older grids)" if left_out else ""
        raise ReportError(f"{path}: results.db holds no results of its latest grid yet{older}")
    mine = {(r["cell"], r["seed"]) for r in rows}
    sweep = SweepData(path=path, rows=rows, left_out=left_out, axes=axes,
                      inference=[r for r in inference if (r["cell"], r["seed"]) in mine],
                      serving=[r for r in serving if (r["cell"], r["seed"]) in mine])
    for row in rows:
        try:
            metrics = _read_json(cell_metrics_file(path, row)) or {}
        except ReportError as exc:
            warnings.warn(ReportWarning(f"{exc}; its curve is left out"))
            metrics = {}
        sweep.epochs[(row["cell"], row["seed"])] = list(metrics.get("epochs") or [])
    return sweep
