"""The sweep: run every cell through its launcher, record each outcome, survive anything.

Finished cells are skipped on a rerun; an interrupted or killed cell resumes from its
last checkpoint; a cell that fails, diverges, dies or hangs is recorded and the sweep
goes on.  Only this module decides statuses; the CLI only draws them.
"""

from __future__ import annotations

import fcntl
import json
import platform
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from zoo.bench.grid import Cell
from zoo.bench.preflight import device_problem
from zoo.bench.store import FINISHED, Store
from zoo.errors import ZooError
from zoo.launch import last_error_line
from zoo.process import ForkServer, ForkServerError, Outcome, run_watched
from zoo.train.progress import read_progress


class SweepReporter(Protocol):
    def sweep_start(self, total: int, done: int) -> None: ...
    def cell_start(self, index: int, cell: Cell, resuming: bool) -> None: ...
    def cell_progress(self, progress: dict) -> None: ...
    def cell_end(self, cell: Cell, row: dict) -> None: ...
    def close(self) -> None: ...


@dataclass
class SweepOptions:
    out: Path
    data_dir: str | None = None
    registry_file: str | None = None
    cell_timeout: float | None = None
    force: bool = False
    checkpoint_every: int = 0
    grace: float = 30.0
    warm_start: bool = True  # fork `single` cells from a process that has paddle imported


@dataclass
class SweepSummary:
    statuses: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        bad = {s for s in self.statuses if s not in ("ok", "skipped")}
        return 1 if bad else 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _environment() -> dict[str, str]:
    from zoo import __version__

    try:
        import paddle

        paddle_version = paddle.__version__
    except ImportError:
        paddle_version = "?"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[2], timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return {"paddle_version": paddle_version, "host": platform.node(),
            "zoo_version": __version__, "git_rev": rev or "unknown"}


class _Stop:
    def __init__(self) -> None:
        self.signal = ""

    def __call__(self, signum, frame) -> None:
        self.signal = signal.Signals(signum).name


def _lock(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ZooError(f"{out} is in use by another zoo bench; wait for it or choose another --out") from None
    return handle


def _classify(outcome, metrics: dict | None, timeout: float | None, log: Path) -> tuple[str, str]:
    if outcome.timed_out:
        return "timeout", f"exceeded --cell-timeout {timeout:g} s; process group killed"
    if outcome.stopped:
        return "interrupted", "sweep interrupted; rerun to resume"
    status = (metrics or {}).get("status")
    if status in ("ok", "diverged", "failed", "interrupted") and not (status == "ok" and outcome.returncode):
        return status, (metrics or {}).get("reason", "")
    code = outcome.returncode
    how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exited with code {code}")
    detail = last_error_line(log)
    return "failed", f"worker {how}" + (f": {detail}" if detail else "")


def _result_values(metrics: dict | None) -> dict[str, Any]:
    if not metrics:
        return {}
    last = (metrics.get("epochs") or [{}])[-1]
    test = metrics.get("test") or {}
    return {"epochs_done": len(metrics.get("epochs") or []), "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"), "val_loss": last.get("val_loss"),
            "val_acc": last.get("val_acc"), "test_loss": test.get("loss"), "test_acc": test.get("acc"),
            "train_time": metrics.get("train_time"), "images_per_s": metrics.get("images_per_s"),
            "time_to_target": metrics.get("time_to_target")}


def _read_metrics(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class _Starter:
    """Starts a cell's processes: forked from the warm server where it can, else fresh."""

    def __init__(self, options: SweepOptions) -> None:
        self.options = options
        self.server: ForkServer | None = None
        self.broken = not options.warm_start

    def prepare(self, launchers: list) -> None:
        """Start the server before the first cell, so no cell's wall time includes it."""
        if any(launcher.forkable for launcher in launchers) and not self.broken:
            try:
                self.server = ForkServer(self.options.out / "forkserver.log")
            except ForkServerError:
                self.broken = True

    def run(self, launcher, job_file: Path, cell_dir: Path, cell: Cell, **watching) -> Outcome:
        # The cell runs in its own folder, never the caller's cwd: paths must be absolute.
        job_file, cell_dir = job_file.absolute(), cell_dir.absolute()
        log = cell_dir / "worker.log"
        if launcher.forkable and not self.broken:
            try:
                if self.server is None:
                    self.server = ForkServer(self.options.out / "forkserver.log")
                return self.server.run(job_file, log, cwd=cell_dir, **watching)
            except ForkServerError as exc:
                # The cell resumes from its checkpoint in a fresh process; later cells too.
                with open(log, "a") as handle:
                    handle.write(f"zoo: {exc}; running this cell in a fresh process\n")
                self.close()
                self.broken = True
        command = launcher.command(job_file, cell.nprocs, cell.device, cell_dir / "logs")
        return run_watched(command, log, cwd=cell_dir, **watching)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


def run_sweep(catalog, cells: list[Cell], options: SweepOptions, reporter: SweepReporter) -> SweepSummary:
    lock = _lock(options.out)
    store = Store(options.out / "results.db")
    env = _environment()
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    summary = SweepSummary()
    starter = _Starter(options)
    try:
        # What `zoo results` shows: this grid, not older rows with other settings.
        store.set_meta("grid", [[c.key, c.seed] for c in cells])
        if options.force:
            store.delete(cells)
        todo = [c for c in cells if (store.row(c) or {}).get("status") not in FINISHED]
        reporter.sweep_start(len(cells), len(cells) - len(todo))
        starter.prepare([catalog.build("launchers", name) for name in {c.launch for c in todo}])
        for index, cell in enumerate(todo):
            if stop.signal:
                break
            _run_cell(catalog, cell, index, options, store, env, stop, reporter, starter)
        summary.interrupted = bool(stop.signal)
        wanted = {(c.key, c.seed) for c in cells}
        for row in store.rows():
            if (row["cell"], row["seed"]) in wanted:
                summary.statuses[row["status"]] = summary.statuses.get(row["status"], 0) + 1
        return summary
    finally:
        starter.close()
        for sig, old in previous.items():
            signal.signal(sig, old)
        reporter.close()
        store.close()
        lock.close()


def _run_cell(catalog, cell: Cell, index: int, options: SweepOptions, store: Store,
              env: dict, stop: _Stop, reporter: SweepReporter, starter: _Starter) -> None:
    cell_dir = options.out / "cells" / cell.slug
    previous = store.row(cell)
    if options.force and cell_dir.exists():
        shutil.rmtree(cell_dir)
    started = _now()
    problem = device_problem(cell.device)
    if problem:
        store.record(cell, status="skipped", reason=problem, started_at=started, ended_at=_now(),
                     cell_dir=str(cell_dir), **env)
        reporter.cell_end(cell, store.row(cell))
        return
    resuming = previous is not None and (cell_dir / "checkpoints").is_dir()
    reporter.cell_start(index, cell, resuming)
    cell_dir.mkdir(parents=True, exist_ok=True)
    job = cell.job(cell_dir, options.data_dir, options.registry_file, options.checkpoint_every)
    job_file = cell_dir / "job.json"
    job_file.write_text(job.to_json())
    store.record(cell, status="running", reason="", started_at=started, ended_at=None,
                 cell_dir=str(cell_dir), **env)
    launcher = catalog.build("launchers", cell.launch)
    metrics_file = cell_dir / "metrics.json"
    # Also when resuming (the worker restores its results from the checkpoint, never from
    # this file): a stale "interrupted" left by the last session would otherwise become
    # this session's status if the worker dies before writing its own.
    metrics_file.unlink(missing_ok=True)
    began = time.monotonic()
    outcome = starter.run(launcher, job_file, cell_dir, cell, timeout=options.cell_timeout,
                          should_stop=lambda: bool(stop.signal),
                          on_poll=lambda: reporter.cell_progress(read_progress(cell_dir / "progress.json") or {}),
                          grace=options.grace)
    metrics = _read_metrics(metrics_file)
    status, reason = _classify(outcome, metrics, options.cell_timeout, cell_dir / "worker.log")
    wall = time.monotonic() - began + float((previous or {}).get("wall_time") or 0.0)
    store.record(cell, status=status, reason=reason, wall_time=wall, ended_at=_now(),
                 **_result_values(metrics))
    reporter.cell_end(cell, store.row(cell))


def grid_changes(db: Path, cells: list[Cell]) -> tuple[list[Cell], list[dict]]:
    """Cells with no stored row yet, and stored rows that are not cells of this grid."""
    store = Store(db)
    try:
        rows = store.rows()
    finally:
        store.close()
    have = {(r["cell"], r["seed"]) for r in rows}
    wanted = {(c.key, c.seed) for c in cells}
    return [c for c in cells if (c.key, c.seed) not in have], \
        [r for r in rows if (r["cell"], r["seed"]) not in wanted]


def describe_changes(stale: list[dict], cells: list[Cell], limit: int = 10) -> list[str]:
    """One line per stored result that no longer matches: what changed, or that it left."""
    by_place = {(c.model, c.optimizer, c.schedule, c.regularizer, c.launch, c.nprocs, c.device,
                 c.seed): c for c in cells}
    lines = []
    for row in stale[:limit]:
        cell = by_place.get(tuple(row[k] for k in ("model", "optimizer", "schedule", "regularizer",
                                                   "launch", "nprocs", "device", "seed")))
        if cell is None:
            lines.append(f"{row['slug']}: no longer in the grid")
            continue
        changed = [f"{k} {row[k]} -> {getattr(cell, k)}"
                   for k in ("dataset", "epochs", "batch_size", "target_acc") if row[k] != getattr(cell, k)]
        if json.loads(row["params"]) != cell.params:
            changed.append(f"params {row['params']} -> {json.dumps(cell.params, sort_keys=True)}")
        lines.append(f"{row['slug']}: {', '.join(changed) or 'settings changed'}")
    if len(stale) > limit:
        lines.append(f"... and {len(stale) - limit} more")
    return lines
