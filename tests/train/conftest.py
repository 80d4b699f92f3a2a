"""Fixtures of the training tests: small real jobs on the packaged MNIST sample, reporters
that count or stop the steps a session runs, and the bitwise comparison of two runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.fixtures import provide
from zoo import checkpoint as ckpt
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.job import Job
from zoo.train.report import NullReporter, StopFlag

EPOCHS, BATCH = 2, 100  # 833 train images -> 9 steps per epoch, 18 steps in all
STEPS_PER_EPOCH = 9
TIMING_KEYS = {"images_per_s", "seconds", "elapsed"}


SMALL_MODELS = {"cnn": {"channels": 4}, "mlp": {"hidden1": 32, "hidden2": 16}}


def make_job(out: Path, model="cnn", optimizer="adam", schedule="constant", regularizer="none",
             params=None, **kwargs) -> Job:
    merged = {"models": dict(SMALL_MODELS[model]), "datasets": {"progress": False}}
    for kind, values in (params or {}).items():
        merged.setdefault(kind, {}).update(values)
    return Job(out=str(out), entries={"models": model, "optimizers": optimizer,
                                      "schedules": schedule, "regularizers": regularizer}, params=merged,
               data_dir=str(MNIST_SAMPLE_DIR), epochs=EPOCHS, batch_size=BATCH,
               checkpoint_every=kwargs.pop("checkpoint_every", 3), **kwargs)


class StepCounter(NullReporter):
    """Counts the training steps a session really ran: a resume that silently started over
    gives the same bits (training is deterministic), but not the same count."""

    def __init__(self) -> None:
        self.steps = 0

    def step(self, step_in_epoch, loss, acc):
        self.steps += 1


class StopAt(StepCounter):
    """Asks the loop to stop after global step ``at``, like a SIGINT would."""

    def __init__(self, stop: StopFlag, at: int) -> None:
        super().__init__()
        self.stop, self.at = stop, at

    def step(self, step_in_epoch, loss, acc):
        super().step(step_in_epoch, loss, acc)
        if self.steps == self.at:
            self.stop.request("test")


def final_arrays(out: Path) -> dict[str, np.ndarray]:
    path = ckpt.list_checkpoints(out)[-1]
    assert path.name == ckpt.checkpoint_name(EPOCHS * STEPS_PER_EPOCH)
    return ckpt.load_checkpoint(path)[0]


def history(result) -> list[dict]:
    return [{k: v for k, v in epoch.items() if k not in TIMING_KEYS} for epoch in result.epochs]


def assert_bitwise(out: Path, ref_out: Path) -> None:
    got, want = final_arrays(out), final_arrays(ref_out)
    assert set(got) == set(want)
    different = [k for k in want if got[k].dtype != want[k].dtype or not np.array_equal(got[k], want[k])]
    assert not different, f"arrays differ from the uninterrupted run: {different}"


resume_epochs_fixture = provide(EPOCHS, "resume_epochs")
steps_per_epoch_fixture = provide(STEPS_PER_EPOCH, "steps_per_epoch")
timing_keys_fixture = provide(TIMING_KEYS, "timing_keys")
step_counter_fixture = provide(StepCounter, "step_counter")
stop_at_fixture = provide(StopAt, "stop_at")
make_job_fixture = provide(make_job)
final_arrays_fixture = provide(final_arrays)
history_fixture = provide(history)
assert_bitwise_fixture = provide(assert_bitwise)
