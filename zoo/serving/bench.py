"""``zoo bench-serve``: measure a running server (URL) or an export served for the occasion,
and record the steps in a sweep's results.db."""

from __future__ import annotations

import asyncio
import contextlib
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError, ZooError
from zoo.layout import SweepDir
from zoo.serving.loadgen import LoadOptions, Step, as_dicts, loopback_url, run_steps


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def run_bench_serve(target: str, model: str | None, options: LoadOptions, sweep: Path | None,
                    export_dir: Path | None, server_args: dict[str, Any],
                    registry_file: str | None = None, on_step=None) -> dict[str, Any]:
    """The measured steps of ``target`` (and the server's settings), recorded in ``sweep``."""
    from zoo.deploy.manifest import read_manifest

    if is_url(target):
        base = loopback_url(target)
        if model is None:
            raise ConfigError(f"{target}: say which model to measure with --model NAME")
        server = contextlib.nullcontext()
    else:
        export_dir = Path(target)
        read_manifest(export_dir)  # a damaged export is a one-line error before any server starts
        model = model or export_dir.absolute().name
        server = _local_server(export_dir, model, server_args, registry_file)
    manifest = read_manifest(export_dir) if sweep is not None and export_dir is not None else None
    if sweep is not None and manifest is None:
        raise ConfigError("--sweep with a URL needs --export EXPORT: the export the server serves, "
                          "to find its cell in the sweep")
    cell = _cell_of(sweep, export_dir, manifest) if sweep is not None else None
    with server as running:
        base = running.url if running is not None else base
        metadata, steps = asyncio.run(_measure(base, model, options, on_step))
    serving = metadata.get("parameters") or {}
    report = {"url": base, "model": model, "server": serving, "images": options.images,
              "datatype": options.datatype, "binary": options.binary, "steps": as_dicts(steps)}
    if cell is not None:
        _record(sweep, cell, report, export_dir)
    return report


def _local_server(export_dir: Path, model: str, args: dict[str, Any], registry_file: str | None):
    from zoo.serving.local import LocalServer

    serve_args = ["--name", model, "--max-batch", str(args["max_batch"]),
                  "--max-delay-ms", str(args["max_delay_ms"])]
    if args.get("backend"):
        serve_args += ["--backend", args["backend"]]
    return LocalServer([export_dir], *serve_args, registry_file=registry_file)


async def _measure(base: str, model: str, options: LoadOptions, on_step) -> tuple[dict, list[Step]]:
    import httpx

    from zoo.serving.loadgen import model_metadata

    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        metadata = await model_metadata(client, base, model)
    return metadata, await run_steps(base, model, options, on_step)


def _cell_of(sweep: Path, export_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The sweep's row whose cell folder holds the checkpoint the export was made from."""
    from zoo.bench.store import open_existing

    checkpoint = Path(manifest["source"]["checkpoint"])
    store = open_existing(sweep)
    try:
        for row in store.rows():
            if row.get("cell_dir") and checkpoint.is_relative_to(Path(row["cell_dir"])):
                return row
    finally:
        store.close()
    raise ZooError(f"{export_dir} was exported from {checkpoint}, which is no cell of the sweep {sweep}")


def _record(sweep: Path, cell: dict[str, Any], report: dict[str, Any], export_dir: Path) -> None:
    from zoo import __version__
    from zoo.bench.serve_store import record_steps
    from zoo.bench.store import Store
    from zoo.paths import lock_dir

    server = report["server"]
    common = {"cell": cell["cell"], "seed": cell["seed"], "slug": cell["slug"],
              "backend": str(server.get("backend", "?")), "device": str(server.get("device", "?")),
              "max_batch": int(server.get("max_batch", 0)), "max_delay_ms": float(server.get("max_delay_ms", 0)),
              "images": report["images"], "model_name": report["model"],
              # The encoding is part of the measurement's key: binary and JSON rows both stay.
              "datatype": report["datatype"] + (" binary" if report["binary"] else ""),
              "export_dir": str(Path(export_dir).absolute()), "host": platform.node(),
              "zoo_version": __version__,
              "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    rows = [{**common, **step, "error_kinds": json.dumps(step["error_kinds"])} for step in report["steps"]]
    lock = lock_dir(sweep, "zoo bench, zoo bench-infer or zoo bench-serve", "--sweep")
    store = Store(SweepDir(sweep).results_db)
    try:
        record_steps(store, rows)
    finally:
        store.close()
        lock.close()
