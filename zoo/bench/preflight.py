"""Checks that run before any training, so a bad grid fails in seconds, not hours."""

from __future__ import annotations

import re

from zoo.bench.grid import Cell
from zoo.errors import ConfigError, DeviceError, ZooError


def check_combinations(catalog, cells: list[Cell]) -> None:
    """Build every distinct model, regularizer+optimizer pair and launcher once."""
    import paddle

    seen: set = set()
    for cell in cells:
        probe = paddle.nn.Linear(2, 2)
        checks = [
            (("models", cell.model, str(cell.params.get("models"))),
             lambda c=cell: catalog.build("models", c.model, c.params.get("models"),
                                          input_shape=(1, 28, 28), num_classes=10)),
            (("opt", cell.optimizer, cell.regularizer, str(cell.params)),
             lambda c=cell: catalog.build(
                 "optimizers", c.optimizer, c.params.get("optimizers"), parameters=probe.parameters(),
                 learning_rate=0.01,
                 weight_decay=catalog.build("regularizers", c.regularizer, c.params.get("regularizers")))),
            (("schedule", cell.schedule, str(cell.params.get("schedules"))),
             lambda c=cell: catalog.build("schedules", c.schedule, c.params.get("schedules"),
                                          learning_rate=0.01, total_steps=100)),
        ]
        for key, build in checks:
            if key in seen:
                continue
            seen.add(key)
            with paddle.utils.unique_name.guard():
                try:
                    build()
                except ZooError as exc:
                    raise ConfigError(f"impossible combination {cell.model}/{cell.optimizer}/"
                                      f"{cell.schedule}/{cell.regularizer}: {exc}") from None
        if not re.fullmatch(r"cpu|gpu(:\d+)?", cell.device):
            # a typo is an error now; only a well-formed device this machine lacks is skipped
            raise ConfigError(f"--devices: unknown device '{cell.device}' (use cpu, gpu or gpu:N)")
        launcher = catalog.build("launchers", cell.launch)
        problem = launcher.problem(cell.nprocs, cell.device)
        if problem:
            raise ConfigError(f"impossible combination: {problem}")


def device_problem(device: str) -> str | None:
    """Why cells on ``device`` must be skipped here, or None if it exists."""
    from zoo.device import check_device

    try:
        check_device(device)
    except DeviceError as exc:
        return str(exc)
    return None
