"""Serving an export: pick and load a backend, then classify pixels with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.deploy import manifest as mf
from zoo.errors import ExportError

BATCH = 256


def open_backend(catalog, export_dir: Path, name: str | None, device: str = "cpu",
                 overrides: dict[str, Any] | None = None,
                 manifest: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any], str]:
    """(loaded backend, verified manifest, backend name) for ``export_dir``.

    ``name`` None takes the format's default backend (``zoo.deploy.export.DEFAULT_BACKEND``);
    ``manifest`` is the folder's, if the caller has already verified it.
    """
    from zoo.deploy.export import DEFAULT_BACKEND

    manifest = manifest or mf.read_manifest(export_dir)
    fmt = manifest["export_format"]
    name = name or DEFAULT_BACKEND[fmt]
    backend = catalog.build("backends", name, overrides)
    wanted = getattr(backend, "format", None)
    if wanted != fmt:
        others = [n for n in catalog.registry.names("backends")
                  if getattr(catalog.build("backends", n), "format", None) == fmt]
        raise ExportError(f"backend '{name}' serves {wanted} exports and {export_dir} holds the "
                          f"{fmt} format; use --backend {' or '.join(others) or '?'}, or export it with "
                          f"--format {wanted}")
    problem = backend.problem(device)
    if problem:
        raise ExportError(problem)
    backend.load(Path(export_dir), manifest, device)
    return backend, manifest, name


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def classify(backend, manifest: dict[str, Any], pixels: np.ndarray) -> np.ndarray:
    """Class probabilities ``[N, classes]`` of pixels ``[N, C, H, W]`` (0..255)."""
    from zoo.deploy.agreement import backend_logits

    logits = backend_logits(backend, pixels, manifest["normalization"])
    classes = len(manifest["class_names"])
    if logits.ndim != 2 or logits.shape[1] != classes:
        raise ExportError(f"the backend returned logits of shape {list(logits.shape)}, "
                          f"expected [N, {classes}]")
    return softmax(logits.astype(np.float64))


def top_k(probabilities: np.ndarray, names: list[str], k: int) -> list[list[dict[str, Any]]]:
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[{"class": int(c), "name": names[c], "probability": float(row[c])} for c in picks]
            for row, picks in zip(probabilities, order)]
