"""The statuses a run or a sweep cell ends with, and the exit codes they map to.

One place, so the worker, the runner, the store, the tables and the CLI can never disagree
on what a status means.  Values are plain strings on disk (metrics.json, results.db).
"""

from __future__ import annotations

from enum import Enum, IntEnum


class Status(str, Enum):
    RUNNING = "running"  # a row whose runner has not recorded an end (yet, or ever: killed)
    OK = "ok"
    DIVERGED = "diverged"  # a NaN or infinite loss, or non-finite parameters
    FAILED = "failed"  # it raised, or a worker died
    TIMEOUT = "timeout"  # over --cell-timeout; its process group was killed
    INTERRUPTED = "interrupted"  # stopped by a signal, after a checkpoint
    SKIPPED = "skipped"  # could not run here (a device this machine lacks)
    PRUNED = "pruned"  # stopped early by the sweep's pruner (--prune); keeps its checkpoint
    # Internal, never stored: a worker that reached an epoch the runner asked it to stop
    # after (Job.pause_epochs), checkpointed, and ended so the pruner can decide.
    PAUSED = "paused"
    # Internal, never stored: a paused cell its pruner holds at that epoch until every cell
    # that can reach it has (synchronous halving); the runner resumes or prunes it then.
    HELD = "held"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def has_result(self) -> bool:
        """Final unless asked otherwise: a rerun keeps it.  The others are retried."""
        return self in FINAL


FINAL = frozenset({Status.OK, Status.DIVERGED, Status.SKIPPED, Status.PRUNED})
# A rerun may also retry these when asked (`zoo bench --retry diverged`); a pruned cell
# then resumes from its checkpoint to its full epochs.
RETRYABLE_ON_REQUEST = frozenset({Status.DIVERGED, Status.SKIPPED, Status.PRUNED})


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a run failed; for a sweep: any cell diverged, failed or timed out
    USAGE = 2  # a one-line error before anything ran (bad input)
    DIVERGED = 3
    ALL_SKIPPED = 4  # a sweep (or zoo bench-infer) where nothing could run here: no result
    BUDGET = 5  # a sweep's --budget-epochs/--budget-time ran out before every cell ran
    INTERRUPTED = 130

    @classmethod
    def of_run(cls, status: Status | str) -> ExitCode:
        """The exit code of one run (``zoo train``, a worker) that ended with ``status``."""
        return {Status.OK: cls.OK, Status.PAUSED: cls.OK, Status.DIVERGED: cls.DIVERGED,
                Status.INTERRUPTED: cls.INTERRUPTED}.get(Status(status), cls.FAILED)

    @classmethod
    def of_rows(cls, statuses, interrupted: bool = False, budget_spent: bool = False) -> ExitCode:
        """The exit code of a command that ran many rows (``zoo bench``, ``zoo bench-infer``):
        1 if any row is neither ok, pruned nor skipped, 5 if the sweep's budget ran out
        first (its cells left ``interrupted`` by it are not failures), 4 if every row was
        skipped (nothing ran: a script must not take that for success), else 0."""
        if interrupted:
            return cls.INTERRUPTED
        seen = {Status(s) for s in statuses}
        if seen - {Status.OK, Status.SKIPPED, Status.PRUNED} - \
                ({Status.INTERRUPTED, Status.RUNNING} if budget_spent else set()):
            return cls.FAILED
        if budget_spent:
            return cls.BUDGET
        return cls.ALL_SKIPPED if seen == {Status.SKIPPED} else cls.OK
