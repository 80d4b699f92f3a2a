"""The models a server holds: each export verified, named, loaded on its own inference
thread and fronted by its batcher."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``zoo serve`` was told, as plain data (it travels to worker processes as JSON)."""

    exports: list[str]
    names: list[str]
    backend: str | None = None
    device: str = "cpu"
    overrides: dict[str, Any] = field(default_factory=dict)
    max_batch: int = 64
    max_delay_ms: float = 2.0
    max_body_bytes: int = 16 * 2**20
    registry_file: str | None = None


def model_names(exports: list[Path], names: tuple[str, ...]) -> list[str]:
    """One URL-safe name per export: ``--name`` in order, else the export folder's name."""
    if names and len(names) != len(exports):
        raise ConfigError(f"--name given {len(names)} times for {len(exports)} exports; "
                          "give one --name per export, in the same order, or none")
    chosen = list(names) or [path.absolute().name for path in exports]
    for name, path in zip(chosen, exports):
        if not NAME.fullmatch(name):
            raise ConfigError(f"model name {name!r} (of {path}) must be 1-64 letters, digits, "
                              "'_', '.' or '-', starting with a letter or digit; choose one with --name")
    duplicates = sorted({n for n in chosen if chosen.count(n) > 1})
    if duplicates:
        raise ConfigError(f"two exports would be served as {duplicates[0]!r}; tell them apart with --name")
    return chosen


class ServedModel:
    """One export behind one name: its verified manifest, its backend and its batcher.

    The backend is loaded, run and closed on the model's own single thread, so a backend
    that is not thread-safe (or keeps per-thread state) only ever sees that thread.
    """

    def __init__(self, name: str, export_dir: Path, manifest: dict[str, Any]) -> None:
        self.name, self.export_dir, self.manifest = name, export_dir, manifest
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"zoo-serve-{name}")
        self.backend: Any = None
        self.backend_name = ""
        self.batcher: Any = None

    def load(self, catalog, options: ServeOptions) -> None:
        from zoo.deploy.serve import open_backend

        overrides = serving_overrides(catalog, options, self.manifest)

        def opened():
            return open_backend(catalog, self.export_dir, options.backend, options.device,
                                overrides, self.manifest)

        self.backend, self.manifest, self.backend_name = self.thread.submit(opened).result()

    def make_batcher(self, options: ServeOptions):
        from zoo.serving.batcher import Batcher

        self.batcher = Batcher(self.backend.predict, self.thread, len(self.manifest["class_names"]),
                               options.max_batch, options.max_delay_ms / 1e3)
        return self.batcher

    def close(self) -> None:
        if self.backend is not None:
            self.thread.submit(self.backend.close).result()
        self.thread.shutdown(wait=True)


def serving_overrides(catalog, options: ServeOptions, manifest: dict[str, Any]) -> dict[str, Any]:
    """The backend parameters to serve with: the user's, and, for a backend with a
    ``threads`` parameter the user left alone, one thread fewer than the CPUs this process
    may use.  The HTTP side needs a core of its own: with every core computing (and
    OpenMP threads spinning between calls) the event loop starves, and measured on 2 cores
    a batching server fell to a third of the throughput of one answering one image at a time."""
    from zoo.deploy.export import DEFAULT_BACKEND

    name = options.backend or DEFAULT_BACKEND[manifest["export_format"]]
    overrides = dict(options.overrides)
    if "threads" in catalog.entry("backends", name).defaults and "threads" not in overrides:
        overrides["threads"] = max(1, len(os.sched_getaffinity(0)) - 1)
    return overrides


def verified(options: ServeOptions) -> list[ServedModel]:
    """The exports' models, each manifest verified (sizes and sha256), nothing loaded yet."""
    from zoo.deploy.manifest import read_manifest

    return [ServedModel(name, Path(path).absolute(), read_manifest(Path(path)))
            for name, path in zip(options.names, options.exports)]


def check_backends(catalog, models: list[ServedModel], options: ServeOptions) -> None:
    """Fail now, in one line, when the chosen backend cannot serve an export here."""
    from zoo.deploy.export import DEFAULT_BACKEND
    from zoo.errors import ExportError

    for model in models:
        fmt = model.manifest["export_format"]
        name = options.backend or DEFAULT_BACKEND[fmt]
        backend = catalog.build("backends", name, options.overrides)
        if getattr(backend, "format", None) != fmt:
            raise ExportError(f"backend '{name}' serves {backend.format} exports and {model.export_dir} "
                              f"holds the {fmt} format; choose --backend accordingly")
        problem = backend.problem(options.device)
        if problem:
            raise ExportError(problem)


def load_all(catalog, models: list[ServedModel], options: ServeOptions) -> list[ServedModel]:
    """Load every model's backend; if one fails, close those already loaded."""
    loaded = []
    try:
        for model in models:
            model.load(catalog, options)
            loaded.append(model)
    except BaseException:
        for model in loaded:
            model.close()
        raise
    return models
