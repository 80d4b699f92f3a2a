"""Checks that run before any training, so a bad grid fails in seconds, not hours.

All of it runs once, in a forked child under a time limit per step (``zoo.forked``): each
distinct dataset is resolved and loaded (a missing file or a failed download is one
error, not a ``failed`` row per cell), every distinct model is built for that data's
shape, every optimizer+regularizer pair and schedule once, and each device is looked up.
The runner's own process never imports paddle and never runs a plugin factory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zoo.bench.data_dirs import DataDirs
from zoo.errors import ConfigError, DeviceError, ZooError
from zoo.forked import run_forked

if TYPE_CHECKING:
    from zoo.plugin.facade import Catalog

DEFAULT_STEP_TIMEOUT = 120.0


@dataclass(frozen=True)
class DataInfo:
    """What a sweep needs to know about one dataset, resolved before any cell runs."""

    fingerprint: str
    input_shape: tuple[int, ...]
    num_classes: int
    data_dir: str | None  # the folder actually read: workers read it, never download
    source: str
    sizes: tuple[int, int, int]


@dataclass(frozen=True)
class Preflight:
    data: dict[str, DataInfo]  # by data_key(dataset, params)
    device_problems: dict[str, str | None]


def data_key(dataset: str, params: dict | None) -> str:
    return json.dumps([dataset, params or {}], sort_keys=True)


def _as_dirs(data_dirs: DataDirs | str | None) -> DataDirs:
    return data_dirs if isinstance(data_dirs, DataDirs) else DataDirs(default=data_dirs)


def _named(data_dirs: DataDirs, dataset: str, exc: ZooError) -> ConfigError:
    """A dataset's loading error on one line naming the dataset and its folder."""
    folder, origin = data_dirs.of(dataset), data_dirs.origin(dataset)
    where = f" ({origin})" if origin and folder and folder not in str(exc) else ""
    if not folder:
        where = " (no folder named: its default place)"
    return ConfigError(f"dataset '{dataset}'{where}: {exc}")


def _load_data(catalog: Catalog, dataset: str, params: dict, data_dir: str | None) -> dict:
    from zoo.data.fingerprint import fingerprint

    data = catalog.build("datasets", dataset, params, data_dir=data_dir)
    for split in ("train", "test"):
        if len(getattr(data, split)) == 0:
            raise ConfigError(f"dataset '{dataset}' has an empty {split} split "
                              f"({getattr(data, 'source', '?')})")
    folder = getattr(data, "data_dir", None)
    return {"fingerprint": fingerprint(data), "input_shape": list(data.input_shape),
            "num_classes": int(data.num_classes), "data_dir": str(folder) if folder else None,
            "source": str(getattr(data, "source", "?")),
            "sizes": [len(data.train), len(data.val), len(data.test)]}


def _check_builds(catalog: Catalog, cells, data: dict[str, dict], say) -> None:
    """Build every distinct model for its data, optimizer+regularizer pair and schedule."""
    import paddle

    seen: set = set()
    for cell in cells:
        info = data[data_key(cell.dataset, cell.params.get("datasets"))]
        probe = paddle.nn.Linear(2, 2)
        checks = [
            (f"building model '{cell.model}' for input {info['input_shape']}",
             ("models", cell.model, str(cell.params.get("models")), str(info["input_shape"])),
             lambda c=cell: catalog.build("models", c.model, c.params.get("models"),
                                          input_shape=tuple(info["input_shape"]),
                                          num_classes=info["num_classes"])),
            (f"building optimizer '{cell.optimizer}' with regularizer '{cell.regularizer}'",
             ("opt", cell.optimizer, cell.regularizer, str(cell.params)),
             lambda c=cell: catalog.build(
                 "optimizers", c.optimizer, c.params.get("optimizers"), parameters=probe.parameters(),
                 learning_rate=0.01,
                 weight_decay=catalog.build("regularizers", c.regularizer, c.params.get("regularizers")))),
            (f"building schedule '{cell.schedule}'",
             ("schedule", cell.schedule, str(cell.params.get("schedules"))),
             lambda c=cell: catalog.build("schedules", c.schedule, c.params.get("schedules"),
                                          learning_rate=0.01, total_steps=100)),
            (f"building launcher '{cell.launch}'", ("launcher", cell.launch, cell.nprocs, cell.device),
             lambda c=cell: _check_launcher(catalog, c)),
        ]
        for step, key, build in checks:
            if key in seen:
                continue
            seen.add(key)
            say(step)
            with paddle.utils.unique_name.guard():
                try:
                    build()
                except ZooError as exc:
                    raise ConfigError(f"impossible combination {cell.model}/{cell.optimizer}/"
                                      f"{cell.schedule}/{cell.regularizer}/{cell.launch}: {exc}") from None


def _check_launcher(catalog: Catalog, cell) -> None:
    launcher = catalog.build("launchers", cell.launch, cell.params.get("launchers"))
    problem = launcher.problem(cell.nprocs, cell.device)
    if problem:
        raise ConfigError(problem)


def device_problem(device: str) -> str | None:
    """Why cells on ``device`` must be skipped here, or None if it exists."""
    from zoo.device import check_device

    try:
        check_device(device)
    except DeviceError as exc:
        return str(exc)
    return None


def preflight(catalog: Catalog, cells, data_dirs: DataDirs | str | None,
              step_timeout: float = DEFAULT_STEP_TIMEOUT) -> Preflight:
    """Resolve the data, build everything once and look up devices, in a child process.

    ``data_dirs``: each dataset's folder (a plain folder or None: the same for all)."""
    data_dirs = _as_dirs(data_dirs)
    for device in {c.device for c in cells}:
        if not re.fullmatch(r"cpu|gpu(:\d+)?", device):
            # a typo is an error now; only a well-formed device this machine lacks is skipped
            raise ConfigError(f"--devices: unknown device '{device}' (use cpu, gpu or gpu:N)")
    wanted = {data_key(c.dataset, c.params.get("datasets")): (c.dataset, c.params.get("datasets") or {})
              for c in cells}

    def check(say) -> dict:
        data = {}
        for key, (dataset, params) in wanted.items():
            say(f"loading dataset '{dataset}'")
            try:
                data[key] = _load_data(catalog, dataset, params, data_dirs.of(dataset))
            except ZooError as exc:
                raise _named(data_dirs, dataset, exc) from None
        _check_builds(catalog, cells, data, say)
        devices = {}
        for device in sorted({c.device for c in cells}):
            say(f"looking up device '{device}'")
            devices[device] = device_problem(device)
        return {"data": data, "devices": devices}

    found = run_forked(check, step_timeout, "preflight")
    return Preflight({key: DataInfo(info["fingerprint"], tuple(info["input_shape"]),
                                    info["num_classes"], info["data_dir"], info["source"],
                                    tuple(info["sizes"]))
                      for key, info in found["data"].items()},
                     found["devices"])


def check_data(catalog, cells, data_dirs: DataDirs | str | None,
               step_timeout: float = DEFAULT_STEP_TIMEOUT) -> list[str]:
    """``zoo bench --dry-run``'s check that each dataset's data is there, without
    downloading anything: one line per dataset (its data, or that the sweep will
    download it), or a one-line ConfigError naming the dataset and its folder."""
    data_dirs = _as_dirs(data_dirs)
    wanted = {data_key(c.dataset, c.params.get("datasets")): (c.dataset, c.params.get("datasets") or {})
              for c in cells}

    def check(say) -> list[str]:
        lines = []
        for dataset, params in wanted.values():
            say(f"looking for dataset '{dataset}'")
            declared = catalog.params("datasets", dataset, params)
            offline = {k: False for k in ("download", "progress", "sample_fallback") if k in declared}
            folder = data_dirs.of(dataset)
            try:
                info = _load_data(catalog, dataset, {**params, **offline}, folder)
            except ZooError as exc:
                if folder is None and declared.get("download") is True:
                    lines.append(f"note: dataset '{dataset}' is not in zoo's cache; the sweep "
                                 f"will download it (or name its folder: --data-dir "
                                 f"{dataset}=DIR)")
                    continue
                raise _named(data_dirs, dataset, exc) from None
            train, val, test = info["sizes"]
            lines.append(f"data: {dataset}: {info['source']} ({train} train / {val} val / "
                         f"{test} test images)")
        return lines

    return run_forked(check, step_timeout, "dry run")
