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
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from zoo.bench.budget import Budget
from zoo.bench.grid import Cell
from zoo.bench.pruning import Pruning, left_paused, settle_held
from zoo.bench.preflight import Preflight, data_key
from zoo.bench.store import Store
from zoo.layout import RunDir, SweepDir
from zoo.paths import lock_dir
from zoo.status import FINAL, ExitCode, Status
from zoo.bench.outcome import classify, result_values
from zoo.exec.executor import DEFAULT_EXECUTOR, CellEnd, CellTask, Executor, Running

if TYPE_CHECKING:
    from zoo.bench.search import AdaptiveSearch
    from zoo.plugin.facade import Catalog


class SweepReporter(Protocol):
    def sweep_start(self, total: int, done: int) -> None: ...
    def cell_start(self, index: int, cell: Cell, resuming: bool, where: str = "") -> None: ...
    def cell_progress(self, progress: dict, cell: Cell | None = None) -> None: ...
    def cell_end(self, cell: Cell, row: dict) -> None: ...
    def close(self) -> None: ...


@dataclass
class SweepOptions:
    out: Path
    data_dir: str | None = None
    data_dirs: dict[str, str] = field(default_factory=dict)  # per dataset, before data_dir
    registry_file: str | None = None
    cell_timeout: float | None = None
    force: bool = False
    checkpoint_every: int = 0
    grace: float = 30.0
    warm_start: bool = True  # fork `single` cells from a process that has paddle imported
    retry: frozenset[Status] = frozenset()  # final statuses to run again (--retry)
    preflight: Preflight | None = None  # resolved data and devices (zoo.bench.preflight)
    axes: tuple[str, ...] = ()  # the grid's varied parameters: columns of `zoo results`
    pruning: Pruning | None = None  # --prune (zoo.bench.pruning); None: never pause a cell
    budget: Budget | None = None  # --budget-epochs / --budget-time (zoo.bench.budget)
    search: AdaptiveSearch | None = None  # --search optuna: cells asked while the sweep runs


@dataclass
class SweepSummary:
    statuses: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    budget: str = ""  # the line saying the budget ran out, if it did

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.of_rows(self.statuses, self.interrupted, bool(self.budget))


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


def run_sweep(catalog: Catalog, cells: list[Cell], options: SweepOptions, reporter: SweepReporter,
              executor: Executor | None = None) -> SweepSummary:
    """Run the cells without a result on ``executor`` (default: the catalogue's ``local``
    executor with its parameters in force: one cell at a time, here)."""
    # Built before anything is locked or replaced: a failing build leaves nothing to undo.
    executor = executor if executor is not None else catalog.build("executors", DEFAULT_EXECUTOR)
    lock = lock_dir(options.out, "zoo bench")
    store = Store(SweepDir(options.out).results_db)
    env = _environment()
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    summary = SweepSummary()
    search = options.search
    try:
        cells = [*cells, *(search.open(options.out, options.preflight, options.force) if search else [])]
        # What `zoo results` shows: this grid, not older rows with other settings.
        store.set_meta("grid", [[c.key, c.seed] for c in cells])
        store.set_meta("axes", list(options.axes))
        if options.force:
            store.delete(cells)
        if options.pruning:  # a search's open() already started its study afresh
            options.pruning.open(options.out, store, cells, options.force, bool(search), search)
        kept = FINAL - options.retry
        todo = [c for c in cells if (store.row(c) or {}).get("status") not in kept]
        # Opened first: a plan it refuses (a launch with no meeting point) is then the
        # only line a user sees.  A search's cells are not asked yet: its prototypes stand in.
        planned = todo + (search.prototypes if search else [])
        executor.open(options.out, [(c, _launcher(catalog, c)) for c in planned], options.warm_start)
        total = max(search.trials, len(cells)) if search else len(cells)
        reporter.sweep_start(total, len(cells) - len(todo))
        budget = options.budget.meter(store, cells) if options.budget else (lambda: "")
        summary.budget = _drive(catalog, todo, options, store, env, stop, reporter, executor, budget,
                                cells)
        summary.interrupted = bool(stop.signal)
        wanted = {(c.key, c.seed) for c in cells}
        for row in store.rows():
            if (row["cell"], row["seed"]) in wanted:
                status = Status(row["status"])
                summary.statuses[status] = summary.statuses.get(status, 0) + 1
        return summary
    finally:
        executor.close()
        if options.pruning:
            options.pruning.close()
        if search:
            search.close()
        for sig, old in previous.items():
            signal.signal(sig, old)
        reporter.close()
        store.close()
        lock.close()


def _launcher(catalog: Catalog, cell: Cell):
    return catalog.build("launchers", cell.launch, cell.params.get("launchers"))


def _drive(catalog: Catalog, todo: list[Cell], options: SweepOptions, store: Store, env: dict,
           stop: _Stop, reporter: SweepReporter, executor: Executor, budget, cells: list[Cell]) -> str:
    """Start cells in order while the executor has room, record each as it ends; on a
    signal, start nothing more and stop the running ones cleanly (they checkpoint).  A
    cell paused for the pruner and let go on resumes first; one it holds waits until
    nothing else can run, then the pruner settles them all; once ``budget()`` says it is
    spent, nothing more starts.  An adaptive search is asked for a new cell (added to
    ``cells``) only when nothing waits and the executor has room, so every point it
    proposes has heard of every cell that ended before.  Returns that line, or ""."""
    pending = list(enumerate(todo))
    running: list[tuple[Cell, Running]] = []
    paused: set[tuple[str, int]] = set()
    # held for the pruner's settle: waiting since a past session, or paused and told "not yet"
    held = [item for item in pending if options.pruning and options.pruning.holds(item[1])]
    pending = [item for item in pending if item not in held]
    paused.update((cell.key, cell.seed) for _, cell in held)
    index_of: dict[tuple[str, int], int] = {(c.key, c.seed): i for i, c in held}
    stopping, spent = False, ""
    while True:
        if (options.search and not pending and not stop.signal
                and (not running or executor.room_for(running[-1][0]))
                and not (spent or (spent := budget()))):
            asked = options.search.next_cell()
            if asked is not None:
                cells.append(asked)
                store.set_meta("grid", [[c.key, c.seed] for c in cells])
                pending.append((len(cells) - 1, asked))
        if (pending or held) and (stop.signal or spent or (spent := budget())):
            for _, cell in pending + held:
                if (cell.key, cell.seed) in paused:
                    left_paused(cell, store, "sweep interrupted" if stop.signal else "budget spent")
            pending, held = [], []
        if not (pending or running) and held:
            pending, held = settle_held(held, options.pruning, store, reporter, options.search), []
        if not (pending or running):
            break
        if stop.signal and not stopping:
            stopping, pending = True, []
            for _, handle in running:
                handle.stop()
        for item in list(pending):
            index, cell = item
            if running and not executor.room_for(cell):
                continue  # a later, smaller cell may fit meanwhile
            pending.remove(item)
            handle = _start_cell(catalog, cell, index, options, store, env, reporter, executor)
            index_of[cell.key, cell.seed] = index
            if handle is not None:
                running.append((cell, handle))
        # The wait is shared out, so a cell that ends is seen within a quarter second.
        for entry in list(running):
            cell, handle = entry
            end = handle.poll(0.25 / len(running))
            if end is None:
                reporter.cell_progress(handle.progress() or {}, cell)
                continue
            running.remove(entry)
            status = _record_end(cell, end, options, store, executor, reporter)
            if status in (Status.PAUSED, Status.HELD):
                paused.add((cell.key, cell.seed))
                item = (index_of[cell.key, cell.seed], cell)
                if status is Status.PAUSED:
                    pending.insert(0, item)
                else:
                    held.append(item)
    return spent


def _start_cell(catalog: Catalog, cell: Cell, index: int, options: SweepOptions, store: Store, env: dict,
                reporter: SweepReporter, executor: Executor) -> Running | None:
    """Record the cell ``running`` and start it; or record why it is ``skipped``."""
    cell_dir = SweepDir(options.out).cell(cell.slug).path.absolute()
    previous = store.row(cell)
    if options.force and cell_dir.exists():
        shutil.rmtree(cell_dir)
    info = options.preflight.data[data_key(cell.dataset, cell.params.get("datasets"))] \
        if options.preflight else None
    common = {"started_at": _now(), "cell_dir": str(cell_dir),
              "num_classes": info.num_classes if info else None, "executor": executor.name, **env}
    problem = (options.preflight.device_problems.get(cell.device)
               if options.preflight and executor.here else None) or executor.problem(cell)
    if problem:
        if options.search:
            options.search.ended(cell, Status.SKIPPED, None)
        store.record(cell, status=Status.SKIPPED, reason=problem, ended_at=_now(), **common)
        reporter.cell_end(cell, store.row(cell))
        return None
    resuming = previous is not None and RunDir(cell_dir).checkpoints.is_dir()
    cell_dir.mkdir(parents=True, exist_ok=True)
    # Workers read the folder the preflight resolved, so none of them downloads again.
    data_dir = info.data_dir if info and info.data_dir else \
        options.data_dirs.get(cell.dataset, options.data_dir)
    job = cell.job(cell_dir, data_dir, options.registry_file, options.checkpoint_every)
    if options.pruning:
        job = replace(job, pause_epochs=options.pruning.pause_epochs(cell))
    RunDir(cell_dir).write_job(job)  # the worker only reads it
    store.record(cell, status=Status.RUNNING, reason="", ended_at=None, node="", shared=None, **common)
    # Also when resuming (the worker restores its results from the checkpoint, never from
    # this file): a stale "interrupted" left by the last session would otherwise become
    # this session's status if the worker dies before writing its own.
    RunDir(cell_dir).metrics_file.unlink(missing_ok=True)
    handle = executor.start(CellTask(cell, cell_dir, job, _launcher(catalog, cell),
                                     options.cell_timeout, options.grace))
    reporter.cell_start(index, cell, resuming, handle.where)
    return handle


def _record_end(cell: Cell, end: CellEnd, options: SweepOptions, store: Store,
                executor: Executor, reporter: SweepReporter) -> Status:
    cell_run = SweepDir(options.out).cell(cell.slug)
    metrics = _read_metrics(cell_run.metrics_file)
    status, reason = classify(end.outcome, metrics, options.cell_timeout, cell_run.log_file)
    if end.lost:
        status, reason = Status.FAILED, end.lost
    values = result_values(metrics)
    # A cell that left no account of itself (killed) shows what this session saw; one that
    # was cut off at --cell-timeout cost the whole timeout, whatever it recorded before.
    if status is Status.TIMEOUT or "wall_time" not in values:
        values["wall_time"] = end.outcome.seconds
    if options.pruning and status is Status.PAUSED:  # asked first: the pruner's record leads
        status, reason = options.pruning.decide(cell, metrics)
    elif options.pruning:
        options.pruning.ended(cell, status, metrics)
    if status in (Status.PAUSED, Status.HELD):  # still running: its progress counts (the budget)
        store.record(cell, status=Status.RUNNING, reason="", **values)
        return status
    if options.search:  # told after the pruner, which may share its study, and before the store
        options.search.ended(cell, status, metrics)
    store.record(cell, status=status, reason=reason, ended_at=_now(), node=end.where,
                 host=end.host, shared=int(end.shared), **values)
    reporter.cell_end(cell, store.row(cell))
    return status
