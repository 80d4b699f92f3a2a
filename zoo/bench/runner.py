"""The sweep: run every cell through its launcher, record each outcome, survive anything.

A cell with a result (ok, diverged, skipped) is kept on a rerun; one without (failed,
timeout, interrupted, or a row left ``running`` by a killed runner) runs again and
resumes from its last checkpoint; a cell that fails, diverges, dies or hangs is recorded
and the sweep goes on.  Only this module decides statuses; the CLI only draws them.

A row's times are what the cell itself recorded (its active time and start-up time, kept
in its checkpoints across sessions), never the runner's clock, so a killed and resumed
sweep, or a store rebuilt from the cells' checkpoints, shows the same honest times.
"""

from __future__ import annotations

import json
import platform
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from zoo import kinds
from zoo.bench.grid import Cell
from zoo.bench.preflight import Preflight, data_key
from zoo.bench.store import Store
from zoo.paths import lock_dir
from zoo.status import FINAL, ExitCode, Status
from zoo.bench.outcome import classify, result_values
from zoo.exec.launch import forkable
from zoo.exec.process import ForkServer, ForkServerError, Outcome, run_watched
from zoo.train.loop import LAUNCH_FILE
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
    retry: frozenset[Status] = frozenset()  # final statuses to run again (--retry)
    preflight: Preflight | None = None  # resolved data and devices (zoo.bench.preflight)


@dataclass
class SweepSummary:
    statuses: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        bad = set(self.statuses) - {Status.OK, Status.SKIPPED}
        return ExitCode.FAILED if bad else ExitCode.OK


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _environment() -> dict[str, str]:
    from zoo import __version__
    from zoo.identity import paddle_version

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[2], timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return {"paddle_version": paddle_version(), "host": platform.node(),
            "zoo_version": __version__, "git_rev": rev or "unknown"}


class _Stop:
    def __init__(self) -> None:
        self.signal = ""

    def __call__(self, signum, frame) -> None:
        self.signal = signal.Signals(signum).name


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

    def prepare(self, catalog, cells: list[Cell]) -> None:
        """Start the server before the first cell, so no cell's wall time includes it."""
        probe = Path("/job.json")
        wanted = any(forkable(catalog.build("launchers", c.launch, c.params.get("launchers")).command(
            probe, c.nprocs, c.device, Path("/logs")), probe) for c in cells)
        if wanted and not self.broken:
            try:
                self.server = ForkServer(self.options.out / "forkserver.log")
            except ForkServerError:
                self.broken = True

    def run(self, launcher, job_file: Path, cell_dir: Path, cell: Cell, **watching) -> Outcome:
        # The cell runs in its own folder, never the caller's cwd: paths must be absolute.
        job_file, cell_dir = job_file.absolute(), cell_dir.absolute()
        log = cell_dir / "worker.log"
        command = launcher.command(job_file, cell.nprocs, cell.device, cell_dir / "logs")
        if forkable(command, job_file) and not self.broken:
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
        return run_watched(command, log, cwd=cell_dir, **watching)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


def run_sweep(catalog, cells: list[Cell], options: SweepOptions, reporter: SweepReporter) -> SweepSummary:
    lock = lock_dir(options.out, "zoo bench")
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
        kept = FINAL - options.retry
        todo = [c for c in cells if (store.row(c) or {}).get("status") not in kept]
        reporter.sweep_start(len(cells), len(cells) - len(todo))
        starter.prepare(catalog, todo)
        for index, cell in enumerate(todo):
            if stop.signal:
                break
            _run_cell(catalog, cell, index, options, store, env, stop, reporter, starter)
        summary.interrupted = bool(stop.signal)
        wanted = {(c.key, c.seed) for c in cells}
        for row in store.rows():
            if (row["cell"], row["seed"]) in wanted:
                status = Status(row["status"])
                summary.statuses[status] = summary.statuses.get(status, 0) + 1
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
    cell_dir = (options.out / "cells" / cell.slug).absolute()
    previous = store.row(cell)
    if options.force and cell_dir.exists():
        shutil.rmtree(cell_dir)
    started = _now()
    info = options.preflight.data[data_key(cell.dataset, cell.params.get("datasets"))] \
        if options.preflight else None
    common = {"started_at": started, "cell_dir": str(cell_dir),
              "num_classes": info.num_classes if info else None, **env}
    problem = options.preflight.device_problems.get(cell.device) if options.preflight else None
    if problem:
        store.record(cell, status=Status.SKIPPED, reason=problem, ended_at=_now(), **common)
        reporter.cell_end(cell, store.row(cell))
        return
    resuming = previous is not None and (cell_dir / "checkpoints").is_dir()
    reporter.cell_start(index, cell, resuming)
    cell_dir.mkdir(parents=True, exist_ok=True)
    # Workers read the folder the preflight resolved, so none of them downloads again.
    data_dir = info.data_dir if info and info.data_dir else options.data_dir
    job = cell.job(cell_dir, data_dir, options.registry_file, options.checkpoint_every)
    job_file = cell_dir / "job.json"
    job_file.write_text(job.to_json())
    store.record(cell, status=Status.RUNNING, reason="", ended_at=None, **common)
    launcher = catalog.build("launchers", cell.launch, cell.params.get("launchers"))
    metrics_file = cell_dir / "metrics.json"
    # Also when resuming (the worker restores its results from the checkpoint, never from
    # this file): a stale "interrupted" left by the last session would otherwise become
    # this session's status if the worker dies before writing its own.
    metrics_file.unlink(missing_ok=True)
    # The worker counts its start-up from here (zoo.train.loop reads it).
    write_launch_time(cell_dir)
    outcome = starter.run(launcher, job_file, cell_dir, cell, timeout=options.cell_timeout,
                          should_stop=lambda: bool(stop.signal),
                          on_poll=lambda: reporter.cell_progress(read_progress(cell_dir / "progress.json") or {}),
                          grace=options.grace)
    metrics = _read_metrics(metrics_file)
    status, reason = classify(outcome, metrics, options.cell_timeout, cell_dir / "worker.log")
    values = result_values(metrics)
    # A cell that left no account of itself (killed) shows what this session saw; one that
    # was cut off at --cell-timeout cost the whole timeout, whatever it recorded before.
    if status is Status.TIMEOUT or "wall_time" not in values:
        values["wall_time"] = outcome.seconds
    store.record(cell, status=status, reason=reason, ended_at=_now(), **values)
    reporter.cell_end(cell, store.row(cell))


def write_launch_time(cell_dir: Path) -> None:
    from zoo.train.logs import write_json_atomic

    write_json_atomic(cell_dir / LAUNCH_FILE, {"launched_at": time.time()})


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
    from zoo.identity import differences

    place = (*(kind.field for kind in kinds.swept()), "nprocs", "device", "seed")
    by_place = {tuple(getattr(c, k) for k in place): c for c in cells}
    lines = []
    for row in stale[:limit]:
        cell = by_place.get(tuple(row[k] for k in place))
        if cell is None:
            lines.append(f"{row['slug']}: no longer in the grid")
            continue
        changed = [f"{k} {row[k]} -> {getattr(cell, k)}"
                   for k in ("epochs", "batch_size", "target_acc") if row[k] != getattr(cell, k)]
        # The resolved parameters in the identity also cover --set and registry.toml.
        changed += differences(json.loads(row["identity"]) if row.get("identity") else None,
                               cell.identity)
        lines.append(f"{row['slug']}: {', '.join(changed) or 'settings changed'}")
    if len(stale) > limit:
        lines.append(f"... and {len(stale) - limit} more")
    return lines
