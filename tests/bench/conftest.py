"""Fixtures of the bench tests: cells and rows on plain data, and the throwaway plugins
that more than one sweep test trains (a CPU probe)."""

from __future__ import annotations

import json

import pytest

from tests.fixtures import provide
from zoo import kinds
from zoo.bench.grid import Cell
from zoo.bench.tables import COMBINATION
from zoo.status import Status


def cell(**changes) -> Cell:
    """A cell of plain names; ``changes`` may name a kind's field (``model="cnn"``)."""
    entries = {"datasets": "mnist", "models": "mlp", "optimizers": "sgd", "schedules": "constant",
               "regularizers": "none", "launchers": "single"}
    for field in [name for name in changes if name in COMBINATION]:
        entries[kinds.by_field(field).name] = changes.pop(field)
    fields = dict(nprocs=1, device="cpu", epochs=1, batch_size=100, seed=0,
                  identity={"params": {"optimizers": {"learning_rate": 0.01}},
                            "data": "a" * 64, "code": {"zoo": "1"}})
    return Cell(entries=entries, **{**fields, **changes})


def row(c: Cell, status: Status = Status.OK, acc: float | None = 0.9, wall: float | None = 2.0,
        **extra) -> dict:
    return {"cell": c.key, "slug": c.slug, **{k: getattr(c, k) for k in (
        "dataset", "model", "optimizer", "schedule", "regularizer", "launch", "nprocs", "device",
        "epochs", "batch_size", "seed", "target_acc")},
            "params": json.dumps(c.params), "identity": json.dumps(c.identity),
            "status": status.value, "reason": "" if status is Status.OK else f"{status} reason",
            "test_acc": acc if status is Status.OK else None,
            "wall_time": wall, "images_per_s": 100.0, "time_to_target": None, "num_classes": 10,
            **extra}


# A small MLP that notes, at every training step, the CPUs it may use, the threads it
# was given and the command line of the process that started it (a fork server, or the
# runner), in its cell's folder (the worker's cwd); it sleeps `delay` s per step so that
# two cells overlap in time.
PROBE = '''
import json, os, time

import zoo


def _cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\\0", b" ").decode(errors="replace")


def build(input_shape, num_classes, *, hidden1: int = 32, hidden2: int = 16, delay: float = 0.0):
    import paddle

    c, h, w = input_shape

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc1 = paddle.nn.Linear(c * h * w, hidden1)
            self.fc2 = paddle.nn.Linear(hidden1, num_classes)

        def forward(self, x):
            if self.training:
                with open("probe.jsonl", "a") as log:
                    log.write(json.dumps({"t": time.time(), "pid": os.getpid(),
                                          "cpus": sorted(os.sched_getaffinity(0)),
                                          "omp": os.environ.get("OMP_NUM_THREADS"),
                                          "parent": _cmdline(os.getppid())}) + "\\n")
                time.sleep(float(os.environ.get("ZOO_TEST_DELAY", delay)))
            return self.fc2(paddle.nn.functional.relu(self.fc1(paddle.flatten(x, 1))))

    return Net()


@zoo.hookimpl
def zoo_register_models(register):
    register("probe", build, description="notes its CPUs at every step",
             defaults={"hidden1": 32, "hidden2": 16, "delay": 0.0})
'''


@pytest.fixture
def probe_env(plugin_kit, marked):
    plugin_kit.add("zoo_test_probe", PROBE)
    yield marked(plugin_kit.env())


def probes(run) -> list[dict]:
    return [json.loads(line) for line in (run / "probe.jsonl").read_text().splitlines()]


cell_fixture = provide(cell)
row_fixture = provide(row)
probes_fixture = provide(probes)
