"""Optuna's pruners behind ``zoo.Pruner`` (the optional ``search`` extra).

Ask-and-tell only: zoo's runner owns processes, executors, the store and every guarantee;
Optuna only keeps the trials and answers "prune?".  One trial per cell and seed, named by
the user attribute ``zoo_trial``.  The study lives in ``study.journal`` beside results.db
(Optuna's journal file storage: appends under a file lock), never inside results.db, where
a second SQLite writer would contend for its lock.

Crash safety: a trial is created by one journal append that already carries its name
(``enqueue_trial`` with the attribute, then ``ask`` takes it), so a killed runner leaves
no nameless trial; on reopening, a waiting trial is taken up and a running one adopted,
never asked again.  The runner tells a final decision to the study before it records the
row, so a crash between the two is repaired on the rerun (``zoo.bench.pruning``).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError
from zoo.pruner import Pruner

STUDY_FILE = "study.journal"
STUDY_NAME = "zoo"
TRIAL_ATTR = "zoo_trial"
_STATUS = {"COMPLETE": "complete", "PRUNED": "pruned"}  # Optuna's final states, as zoo tells them


def require_optuna(name: str, option: str = "--prune"):
    """Optuna, or the one-line error saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(f"{option} {name} needs Optuna, which is not installed: "
                          "pip install 'zoo[search]'") from None
    return optuna


def open_study(folder: Path, pruner=None, sampler=None):
    """The sweep folder's study (created on first use), read or written by this process."""
    optuna = require_optuna("")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = Path(folder) / STUDY_FILE
    storage = JournalStorage(JournalFileBackend(str(path), lock_obj=KernelLock(f"{path}.lock")))  # type: ignore[arg-type]
    # Pruning asks nothing of the sampler (there are no parameters); a seeded random one
    # keeps it cheap and deterministic.  A searcher brings its own.
    return optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="maximize",
                               pruner=pruner, sampler=sampler or optuna.samplers.RandomSampler(seed=0),
                               load_if_exists=True)


class KernelLock:
    """The journal's lock as an flock, which the kernel releases when its holder dies.

    Optuna's default lock is a symlink: a runner killed (kill -9) while appending leaves it
    behind, and the rerun waits its 30 s grace period, then warns.  Only the runner writes
    the journal (it holds the sweep folder's lock), so this guards against nothing else.
    Optuna takes any object with ``acquire`` and ``release`` (its ``lock_obj``)."""

    def __init__(self, path: str) -> None:
        self._path, self._fd = path, -1

    def acquire(self) -> bool:
        self._fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


class OptunaPruner(Pruner):
    """An Optuna pruner (``make(optuna)`` builds it) asked at ``epochs_rule(epochs)``."""

    def __init__(self, name: str, make: Callable[[Any], Any],
                 epochs_rule: Callable[[int], tuple[int, ...]]) -> None:
        self.name = name
        self._optuna = require_optuna(name)
        # Built now, so that a bad parameter (reduction_factor=1) is refused with --prune's
        # one-line error before anything runs.
        self._pruner, self._rule = make(self._optuna), epochs_rule
        self._running: dict[str, Any] = {}  # trial name -> optuna.trial.Trial
        self._done: dict[str, str] = {}  # trial name -> "complete", "pruned" or "failed"
        self._reported: dict[str, set[int]] = {}  # trial name -> epochs reported to the study
        self.study: Any = None  # opened by open()

    def open(self, folder: Path) -> None:
        self.study = open_study(folder, self._pruner)
        states = self._optuna.trial.TrialState
        waiting = 0
        for frozen in self.study.get_trials(deepcopy=False):
            name = frozen.user_attrs.get(TRIAL_ATTR)
            if frozen.state == states.WAITING:
                waiting += 1
            elif name is None:
                continue
            elif frozen.state == states.RUNNING:
                # Optuna has no public call to take up a running trial in a new process;
                # Trial(study, id) is what study.ask() itself builds.
                self._running[name] = self._optuna.trial.Trial(self.study, frozen._trial_id)
                self._reported[name] = set(frozen.intermediate_values)
            else:
                self._done[name] = _STATUS.get(frozen.state.name, "failed")
        for _ in range(waiting):  # enqueued by a runner killed before it asked
            self._take(self.study.ask())

    def decision_epochs(self, epochs: int) -> tuple[int, ...]:
        return tuple(e for e in self._rule(epochs) if 1 <= e < epochs)

    def decided(self, trial: str) -> str | None:
        return self._done.get(trial)

    def should_prune(self, trial: str, values: list[float]) -> bool:
        if not values or values[-1] is None:  # no validation split: nothing to judge by
            return False
        live = self._trial(trial)
        self._report(trial, live, values)
        return bool(live.should_prune())

    def tell(self, trial: str, status: str, values: list[float]) -> None:
        if trial in self._done:  # decided before (a pruned cell resumed by --retry pruned)
            return
        live = self._trial(trial)
        self._report(trial, live, values)
        states = self._optuna.trial.TrialState
        if status == "complete" and values and values[-1] is not None:
            self.study.tell(live, float(values[-1]))
        else:
            self.study.tell(live, state=states.PRUNED if status == "pruned" else states.FAIL)
        self._running.pop(trial, None)
        self._done[trial] = status if status in ("complete", "pruned") else "failed"

    def _trial(self, name: str):
        if name not in self._running:
            self._adopt(name)
        if name not in self._running:
            self.study.enqueue_trial({}, user_attrs={TRIAL_ATTR: name})
            self._take(self.study.ask())
        return self._running[name]

    def _adopt(self, name: str) -> None:
        """A running trial another writer of the study named since ``open``: a searcher's
        (``--search optuna``), whose trials this pruner decides on, in one study."""
        states = self._optuna.trial.TrialState
        for frozen in self.study.get_trials(deepcopy=False, states=(states.RUNNING,)):
            if frozen.user_attrs.get(TRIAL_ATTR) == name:
                self._running[name] = self._optuna.trial.Trial(self.study, frozen._trial_id)
                self._reported[name] = set(frozen.intermediate_values)
                return

    def _take(self, live) -> None:
        name = live.user_attrs.get(TRIAL_ATTR)
        if name is not None:
            self._running[name] = live
            self._reported.setdefault(name, set())

    def _report(self, name: str, live, values: list[float]) -> None:
        """Each epoch's accuracy once (Optuna ignores, with a warning, a step reported twice)."""
        reported = self._reported.setdefault(name, set())
        for epoch, value in enumerate(values, start=1):
            if value is not None and epoch not in reported:
                live.report(float(value), epoch)
                reported.add(epoch)


def rung_epochs(min_resource: int, reduction_factor: int, min_early_stopping_rate: int
                ) -> Callable[[int], tuple[int, ...]]:
    """The epochs where successive halving can stop a trial (its rungs): elsewhere
    Optuna's answer is always "go on", so pausing there would only cost a restart."""
    def rule(epochs: int) -> tuple[int, ...]:
        found, rung = [], 0
        while (epoch := min_resource * reduction_factor ** (min_early_stopping_rate + rung)) < epochs:
            found.append(epoch)
            rung += 1
        return tuple(found)
    return rule


def every_epoch(epochs: int) -> tuple[int, ...]:
    """Decide after every epoch but the last (an ``OptunaPruner``'s ``epochs_rule``)."""
    return tuple(range(1, epochs))
