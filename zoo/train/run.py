"""One training run's declared state: its result so far, what it was built from, and
building it (data, model, schedule, optimizer) from a Job."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import TrainingError
from zoo.job import Job
from zoo.status import Status
from zoo.train.ranks import keeps_files
from zoo.train.report import Reporter


@dataclass
class RunResult:
    status: Status = Status.RUNNING  # then OK, DIVERGED, INTERRUPTED or FAILED
    reason: str = ""
    epochs: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, float] | None = None
    global_step: int = 0
    total_steps: int = 0
    elapsed: float = 0.0  # active seconds over all sessions, evaluation included
    startup: float = 0.0  # seconds from launch to the first step, over all sessions
    train_time: float = 0.0  # seconds spent in training steps only
    images_per_s: float | None = None
    time_to_target: float | None = None
    resumed_from: int | None = None
    num_params: int | None = None  # the model's parameter count, shown beside its accuracy
    device: str = "cpu"
    world_size: int = 1

    def to_dict(self, job: Job) -> dict[str, Any]:
        return {"job": job.to_dict(), **asdict(self)}


class Run:
    """State shared by the steps of one run (kept out of a long function's locals): the
    job and where it runs, then what ``build`` makes of it."""

    # Set by build(): the data, its batches, the network and how it learns.
    data: Any
    transform: Any  # zoo.data.Transform: the dataset's own normalization
    sampler: Any  # zoo.data.BatchSampler
    input_shape: tuple[int, ...]
    num_classes: int
    model: Any  # paddle.nn.Layer
    scheduler: Any  # paddle.optimizer.lr.LRScheduler
    optimizer: Any  # paddle.optimizer.Optimizer
    identity: dict[str, Any]

    def __init__(self, job: Job, catalog, reporter: Reporter, rank: int, world_size: int):
        self.job, self.catalog, self.reporter = job, catalog, reporter
        self.rank, self.world_size = rank, world_size
        self.out = Path(job.out)
        self.result = RunResult(world_size=world_size)
        self.sums = {"loss": 0.0, "correct": 0.0, "seen": 0, "time": 0.0}

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @property
    def keeper(self) -> bool:
        """Writes the run folder: the leader, and the first rank on every other machine of
        a multi-node job, whose folder there must hold the same checkpoints to resume."""
        return self.leader or keeps_files(self.rank)


def build(run: Run) -> None:
    import paddle

    job, catalog = run.job, run.catalog
    # results.db stores seeds as signed 64-bit SQLite integers (paddle.seed would take < 2**64).
    if isinstance(job.seed, bool) or not isinstance(job.seed, int) or not 0 <= job.seed < 2**63:
        raise TrainingError(f"seed must be an integer in [0, 2**63 - 1], got {job.seed!r}")
    data = catalog.build("datasets", job.dataset, job.overrides("datasets"), data_dir=job.data_dir)
    from zoo.data import BatchSampler, transform_of
    from zoo.data.subset import limit_train

    data = limit_train(data, job.limit_train)  # before the fingerprint: it is the data trained on

    run.transform = transform_of(data)
    try:
        sampler = BatchSampler(data.train, job.batch_size, seed=job.seed,
                               rank=run.rank, world_size=run.world_size, transform=run.transform)
    except ValueError as exc:
        raise TrainingError(f"cannot batch the training data: {exc}") from None
    if len(data.test) == 0:  # found now, not after training when the test has nothing to run on
        raise TrainingError(f"dataset '{job.dataset}' has an empty test split")
    if job.target_acc is not None and len(data.val) == 0:
        raise TrainingError(f"target accuracy {job.target_acc} is measured on the validation split, "
                            "and there is none (dataset.val_fraction=0)")
    run.data, run.sampler = data, sampler
    run.input_shape = tuple(data.input_shape)
    run.num_classes = int(data.num_classes)
    run.result.total_steps = total = sampler.steps_per_epoch * job.epochs
    paddle.seed(job.seed)
    run.model = catalog.build("models", job.model, job.overrides("models"),
                              input_shape=run.input_shape, num_classes=run.num_classes)
    if not isinstance(run.model, paddle.nn.Layer):
        raise TrainingError(f"model '{job.model}' factory did not return a paddle.nn.Layer")
    run.identity = _identity(run, data)
    base_lr = catalog.params("optimizers", job.optimizer, job.overrides("optimizers")).get("learning_rate")
    if not isinstance(base_lr, (int, float)):
        raise TrainingError(f"optimizer '{job.optimizer}' declares no numeric learning_rate default")
    run.scheduler = catalog.build("schedules", job.schedule, job.overrides("schedules"),
                                  learning_rate=float(base_lr), total_steps=total)
    regularizer = catalog.build("regularizers", job.regularizer, job.overrides("regularizers"))
    run.optimizer = catalog.build("optimizers", job.optimizer, job.overrides("optimizers"),
                                  parameters=run.model.parameters(), learning_rate=run.scheduler,
                                  weight_decay=regularizer)


def _identity(run: Run, data) -> dict:
    """This run's result identity: settings, resolved parameters, data and code."""
    from zoo.data.fingerprint import fingerprint
    from zoo.identity import identity

    job = run.job
    return identity(run.catalog, job.names, job.params, fingerprint(data), job.settings())
