"""``zoo bench-infer``: what each finished cell of a sweep costs to serve, per backend and device.

For every ``ok`` cell of the sweep's latest grid: export its newest checkpoint in each
format a chosen backend loads (into the cell's folder, with ``zoo export``'s agreement
check), check each backend's outputs against the trained model on real test images, and
measure latency at batch 1 and throughput at two batch sizes.  Rows go into the sweep's
results.db (``zoo.bench.infer_store``).  A row whose backend parameters are unchanged and
that ended ``ok`` or ``skipped`` is kept on a rerun; ``force`` measures again.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from zoo.bench import infer_store
from zoo.bench.store import Store, cell_folder
from zoo.errors import ConfigError, ZooError, one_line
from zoo.layout import SweepDir
from zoo.status import Status

KEPT = {Status.OK.value, Status.SKIPPED.value}


@dataclass
class InferOptions:
    backends: list[str]
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    overrides: dict[str, Any] = field(default_factory=dict)  # --set backend.P=V
    requests: int = 200
    warmup: int = 20
    batch_size: int = 64
    large_batch: int = 500
    repeats: int = 5
    check_images: int = 256
    force: bool = False


class InferReporter(Protocol):
    def measured(self, slug: str, backend: str, device: str, row: dict[str, Any]) -> None: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def finished_cells(store: Store) -> list[dict[str, Any]]:
    """The ``ok`` rows of the grid last run in this directory (every ``ok`` row if none)."""
    grid = store.get_meta("grid")
    keys = None if grid is None else {(cell, seed) for cell, seed in grid}
    return [r for r in store.rows()
            if r["status"] == Status.OK and (keys is None or (r["cell"], r["seed"]) in keys)]


def backend_params(catalog, names: list[str], overrides: dict[str, Any]) -> dict[str, dict]:
    """Each backend's resolved parameters; a --set that no chosen backend has is an error."""
    for key in overrides:
        if not any(key in catalog.entry("backends", n).defaults for n in names):
            raise ConfigError(f"--set backend.{key}: no chosen backend has a parameter '{key}' "
                              f"({', '.join(names)})")
    return {n: catalog.params("backends", n, {k: v for k, v in overrides.items()
                                                if k in catalog.entry("backends", n).defaults})
            for n in names}


def run_infer_bench(catalog, run_dir: Path, options: InferOptions,
                    reporter: InferReporter) -> list[dict[str, Any]]:
    from zoo.bench.store import open_existing
    from zoo.paths import lock_dir

    open_existing(run_dir).close()  # a folder that is no sweep fails here, before the lock
    params = backend_params(catalog, options.backends, options.overrides)
    # The sweep's own lock: never measure a cell that a running `zoo bench` still trains.
    lock = lock_dir(run_dir, "zoo bench or zoo bench-infer", "DIR")
    store = Store(SweepDir(run_dir).results_db)
    try:
        infer_store.ensure_table(store)
        cells = finished_cells(store)
        if not cells:
            raise ZooError(f"{run_dir}: no cell finished ok yet; nothing to measure")
        for row in cells:
            _bench_cell(catalog, run_dir, store, row, params, options, reporter)
        # Every row asked for, measured now or kept from before: what the exit code judges.
        return [infer_store.find(store, row["cell"], row["seed"], backend, device)
                for row in cells for backend in options.backends for device in options.devices]
    finally:
        store.close()
        lock.close()


def _todo(store: Store, row: dict, params: dict[str, dict], options: InferOptions) -> list[tuple[str, str]]:
    pairs = []
    for backend in options.backends:
        for device in options.devices:
            have = infer_store.find(store, row["cell"], row["seed"], backend, device)
            same = have and have["backend_params"] == json.dumps(params[backend], sort_keys=True)
            if options.force or not (same and have["status"] in KEPT):
                pairs.append((backend, device))
    return pairs


def _bench_cell(catalog, run_dir: Path, store: Store, row: dict, params: dict[str, dict],
                options: InferOptions, reporter: InferReporter) -> list[dict[str, Any]]:
    from zoo import __version__
    from zoo.data import transform_of
    from zoo.deploy.agreement import reference_logits
    from zoo.identity import paddle_version
    from zoo.train.restore import load_model

    todo = _todo(store, row, params, options)
    if not todo:
        return []
    # The cell of this sweep (a copy's own, not the folder the row was written from).
    cell_dir = cell_folder(run_dir, row)
    net, data, _, _ = load_model(catalog, cell_dir)
    net.eval()
    check = data.test.images[:options.check_images]
    context = {"reference": reference_logits(net, check, transform_of(data)), "check": check, "data": data,
               "exports": {}, "cell_dir": cell_dir}
    common = {"slug": row["slug"], "paddle_version": paddle_version(), "host": platform.node(),
              "zoo_version": __version__}
    written = []
    for backend, device in todo:
        values = {**common, "backend_params": params[backend], "measured_at": _now(),
                  **_measure_one(catalog, backend, device, params[backend], options, context)}
        infer_store.record(store, row["cell"], row["seed"], backend, device, **values)
        stored = infer_store.find(store, row["cell"], row["seed"], backend, device)
        reporter.measured(row["slug"], backend, device, stored)
        written.append(stored)
    return written


def _export(catalog, fmt: str, options: InferOptions, context: dict) -> tuple[Path, dict]:
    """The cell's export in ``fmt``, made once per cell (a failure is remembered too)."""
    from zoo.deploy.export import export_checkpoint

    exports = context["exports"]
    if fmt not in exports:
        try:
            exports[fmt] = export_checkpoint(catalog, context["cell_dir"], fmt,
                                             context["cell_dir"] / f"export-{fmt}", force=True,
                                             check_images=options.check_images)
        except ZooError as exc:
            exports[fmt] = exc
    if isinstance(exports[fmt], ZooError):
        raise exports[fmt]
    return exports[fmt]


def _measure_one(catalog, name: str, device: str, params: dict, options: InferOptions,
                 context: dict) -> dict[str, Any]:
    from zoo.deploy import manifest as mf
    from zoo.deploy.agreement import backend_logits, compare
    from zoo.deploy.measure import fill, latency, throughput

    from zoo.deploy.onnx_extra import INSTALL_HINT, missing

    backend = catalog.build("backends", name, params)
    problem = backend.problem(device)
    if not problem and backend.format == "onnx" and missing("paddle2onnx"):
        problem = f"onnx exports need paddle2onnx, which is not installed: {INSTALL_HINT}"
    if problem:
        return {"status": Status.SKIPPED.value, "reason": problem, "export_format": backend.format}
    try:
        folder, manifest = _export(catalog, backend.format, options, context)
    except ZooError as exc:
        return {"status": Status.FAILED.value, "reason": str(exc), "export_format": backend.format}
    values: dict[str, Any] = {"export_format": backend.format, "export_dir": str(folder)}
    try:
        backend.load(folder, manifest, device)
        norm = manifest["normalization"]
        found = compare(context["reference"], backend_logits(backend, mf.to_nchw(context["check"]), norm))
        values.update(images_checked=found["images"], max_abs_diff=found["max_abs_diff"],
                      classes_differ=found["classes_differ"])
        images = mf.normalize(mf.to_nchw(context["data"].test.images[:options.large_batch]), norm)
        timing = latency(backend.predict, images, options.requests, options.warmup)
        values.update(requests=timing.requests, p50_ms=timing.p50_ms, p99_ms=timing.p99_ms,
                      batch_size=options.batch_size, large_batch=options.large_batch,
                      images_per_s=throughput(backend.predict, fill(images, options.batch_size),
                                              options.repeats),
                      large_images_per_s=throughput(backend.predict, fill(images, options.large_batch),
                                                    options.repeats))
    except ZooError as exc:
        return {**values, "status": Status.FAILED.value, "reason": str(exc)}
    except Exception as exc:  # a runtime's or a plugin's bug: recorded, the others still run
        return {**values, "status": Status.FAILED.value,
                "reason": f"{name} raised {type(exc).__name__}: {one_line(exc)}"}
    finally:
        backend.close()
    if not found["agrees"]:
        return {**values, "status": Status.FAILED.value,
                "reason": f"disagrees with the trained model: max |diff| {found['max_abs_diff']:.3g}, "
                          f"{found['classes_differ']} classes differ"}
    return {**values, "status": Status.OK.value, "reason": ""}
