"""The ``local`` executor: up to ``--jobs`` cells at once on this machine.

Each of the ``jobs`` slots owns ``threads`` CPUs of its own; a cell of ``nprocs`` P holds
P slots (all of them if P > jobs, so it runs alone) and its processes are pinned to those
CPUs (``sched_setaffinity``, inherited by every process of the cell), so concurrent cells
never fight over a core.  With ``--jobs 1`` nothing is pinned: the cell has the machine,
as before executors existed.  ``single`` cells are forked from warm processes that have
paddle imported, one per slot that needs one.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from zoo import layout
from zoo.errors import ConfigError
from zoo.exec.executor import CellEnd, CellTask, Executor, usable_cpus
from zoo.exec.launch import forkable
from zoo.exec.forkserver_client import ForkServer, ForkServerError
from zoo.exec.process import Watch, start_process
from zoo.layout import RunDir


def write_launch_time(cell_dir: Path) -> None:
    """The worker counts its start-up from here (``zoo.train.loop`` reads it)."""
    RunDir(cell_dir).stamp_launch()


def _span(numbers: list[int]) -> str:
    return f"{numbers[0]}" if len(numbers) == 1 else \
        f"{numbers[0]}-{numbers[-1]}" if numbers == list(range(numbers[0], numbers[-1] + 1)) \
        else ",".join(map(str, numbers))


def _check_meeting_point(cell, launcher) -> None:
    """A cell trained across machines needs the address where its ranks meet; without it
    rank 0 would wait for its peers until the cell's timeout.  (The ray executor names
    the master itself, so this is the local executor's check, not the launcher's.)"""
    if getattr(launcher, "nnodes", 1) > 1 and not getattr(launcher, "master", "x"):
        raise ConfigError(f"{cell.slug}: launcher.nnodes={launcher.nnodes} needs "
                          "launcher.master=HOST:PORT (node 0's address, the same on every machine) "
                          "and launcher.node_rank on each; or run it with --executor ray, which "
                          "finds them itself")


class LocalExecutor(Executor):
    """This machine: up to ``jobs`` cells at once, each pinned to CPUs of its own, ``threads``
    per training process (0: the machine's share); plain one-process cells forked warm."""

    name = "local"

    def __init__(self, jobs: int = 1, threads: int = 0) -> None:
        self.jobs = jobs
        self.cpus = usable_cpus()
        # Paddle's own default is one thread; sharing the machine, a cell gets its share.
        self.threads = threads or (1 if jobs == 1 else max(1, len(self.cpus) // jobs))
        self.free: list[int] = []  # the idle slots, from open(): --jobs may be absurd until check()
        self.running: list[_LocalRunning] = []
        self.idle: list[ForkServer] = []
        self.servers = 0
        self.out = Path(".")
        self.warm = True

    def check(self) -> None:
        if self.jobs < 1 or self.threads < 1:
            raise ConfigError(f"--jobs and --threads must be at least 1 (got {self.jobs}, {self.threads})")
        # One bound for each on its own, whatever the other is: more cells than CPUs only
        # makes them fight over cores (and an absurd --jobs never reaches range()).  A thread
        # count is part of a result's identity, so one cell may use more threads than this
        # process has CPUs (reproducing a T=2 result under `taskset -c 0`: slower, same
        # bits), but never more than the machine has.
        machine = os.cpu_count() or len(self.cpus)
        for option, value, limit, what in (("--jobs", self.jobs, len(self.cpus), "this process may use"),
                                           ("--threads", self.threads, machine, "this machine has")):
            if value > limit:
                raise ConfigError(f"{option} {value}: {what} {limit} "
                                  f"CPU{'s' if limit != 1 else ''}; choose at most that")
        if self.jobs > 1 and self.jobs * self.threads > len(self.cpus):
            raise ConfigError(f"--jobs {self.jobs} x --threads {self.threads} needs "
                              f"{self.jobs * self.threads} CPUs of their own; this process may use "
                              f"{len(self.cpus)} (lower --jobs or --threads)")

    def slot_cpus(self, slot: int) -> list[int]:
        return self.cpus[slot * self.threads:(slot + 1) * self.threads]

    def open(self, out: Path, planned: list[tuple] = (), warm: bool = True) -> None:
        self.out, self.warm = out, warm
        self.free = list(range(self.jobs))
        for cell, launcher in planned:
            _check_meeting_point(cell, launcher)
        probe = Path("/") / layout.JOB
        wanted = sum(forkable(launcher.command(probe, cell.nprocs, cell.device, Path("/logs")), probe)
                     for cell, launcher in planned)
        # Started together before the first cell, so no cell's wall time includes them.
        if warm and wanted:
            try:
                started = [self._new_server(wait=False) for _ in range(min(self.jobs, wanted))]
                for server in started:
                    server.ready()
                self.idle.extend(started)
            except ForkServerError:
                self._broken()

    def _new_server(self, wait: bool) -> ForkServer:
        name = "forkserver.log" if self.servers == 0 else f"forkserver-{self.servers}.log"
        self.servers += 1
        return ForkServer(self.out / name, wait=wait)

    def _broken(self) -> None:
        """A server died: later cells start fresh, as they do with --cold-start."""
        self.warm = False
        for server in self.idle:
            server.close()
        self.idle.clear()

    def room_for(self, cell) -> bool:
        return len(self.free) >= min(cell.nprocs, self.jobs)

    def start(self, task: CellTask) -> _LocalRunning:
        need = min(task.cell.nprocs, self.jobs)
        slots, self.free = self.free[:need], self.free[need:]
        cpus = sorted(c for s in slots for c in self.slot_cpus(s)) if self.jobs > 1 else None
        where = f"slot {_span(slots)} (cpu {_span(cpus)})" if cpus else ""
        running = _LocalRunning(self, task, slots, cpus, where)
        self.running.append(running)
        return running

    def _server(self) -> ForkServer | None:
        if not self.warm:
            return None
        if self.idle:
            return self.idle.pop()
        try:
            return self._new_server(wait=True)
        except ForkServerError:
            self._broken()
            return None

    def release(self, running: _LocalRunning) -> None:
        self.running.remove(running)
        self.free = sorted(self.free + running.slots)
        if running.server is not None:
            if self.warm:
                self.idle.append(running.server)
            else:
                running.server.close()

    def close(self) -> None:
        for running in list(self.running):  # only after an error: stop them, then kill
            running.watch.stop(grace=1.0)
        deadline = time.monotonic() + 2.0
        while self.running and time.monotonic() < deadline:
            for running in list(self.running):
                if running.poll(0.05) is not None:
                    break
        for running in list(self.running):
            running.watch.kill()
            self.release(running)
        for server in self.idle:
            server.close()
        self.idle.clear()


class _LocalRunning:
    def __init__(self, executor: LocalExecutor, task: CellTask, slots: list[int],
                 cpus: list[int] | None, where: str) -> None:
        self.executor, self.task, self.slots, self.cpus, self.where = executor, task, slots, cpus, where
        cell_dir = task.cell_dir
        self.job_file, self.log = RunDir(cell_dir).job_file, RunDir(cell_dir).log_file
        self.command = task.launcher.command(self.job_file, task.cell.nprocs, task.cell.device,
                                             RunDir(cell_dir).launcher_logs)
        self.env = {"OMP_NUM_THREADS": str(executor.threads)}
        self.server = executor._server() if forkable(self.command, self.job_file) else None
        write_launch_time(cell_dir)
        handle = None
        if self.server is not None:
            try:
                handle = self.server.start(self.job_file, self.log, cwd=cell_dir, cpus=cpus, env=self.env)
            except ForkServerError as exc:
                self._fresh(exc)
                return
        if handle is None:
            handle = start_process(self.command, self.log, env={**os.environ, **self.env},
                                   cwd=cell_dir, cpus=cpus)
        self.watch = Watch(handle, task.timeout, task.grace)

    def _fresh(self, exc: ForkServerError) -> None:
        """The cell resumes from its checkpoint in a fresh process; later cells too."""
        with open(self.log, "a") as handle:
            handle.write(f"zoo: {exc}; running this cell in a fresh process\n")
        self.server.close()
        self.server = None
        self.executor._broken()
        stopped = getattr(self, "watch", None) is not None and self.watch.stopped
        self.watch = Watch(start_process(self.command, self.log, env={**os.environ, **self.env},
                                         cwd=self.task.cell_dir, cpus=self.cpus),
                           self.task.timeout, self.task.grace)
        if stopped:
            self.watch.stop()

    def poll(self, wait: float) -> CellEnd | None:
        try:
            outcome = self.watch.poll(wait)
        except ForkServerError as exc:
            self.watch.kill()
            self._fresh(exc)
            return None
        if outcome is None:
            return None
        self.executor.release(self)
        return CellEnd(outcome, self.where, platform.node(), shared=self.executor.jobs > 1)

    def stop(self) -> None:
        self.watch.stop()

    def progress(self) -> dict | None:
        from zoo.train.progress import read_progress

        return read_progress(RunDir(self.task.cell_dir).progress_file)
