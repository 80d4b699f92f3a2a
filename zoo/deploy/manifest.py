"""Export folders on disk: ``zoo-export.json`` and the model files it vouches for.

Written like checkpoints: everything goes to a temporary folder, the manifest last, then
one rename publishes the folder, so an export folder with a valid manifest is complete
and a crash leaves at most a ``.tmp-*`` folder.  Reading verifies every file's size and
sha256 and every field a backend relies on, so a damaged export is a one-line error,
never a crash inside a runtime.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from zoo.atomic import publish_dir, write_synced
from zoo.checkpoint import file_sha256
from zoo.errors import ExportError, one_line
from zoo.layout import RunDir

MANIFEST = "zoo-export.json"
FORMAT = "zoo-export/1"
# The only file sets an export may hold, per format: a manifest can never name a file
# outside its folder, and a backend knows what to open.  Paddle 3 writes a PIR program
# (.json); older builds, or FLAGS_enable_pir_api=0, the legacy .pdmodel.
MODEL_FILES = {"paddle": (("model.json", "model.pdiparams"), ("model.pdmodel", "model.pdiparams")),
               "onnx": (("model.onnx",),)}
INPUT_NAME = "image"
# What a manifest may claim about its input: beyond these it is damaged or hostile.
MAX_CHANNELS, MAX_SIDE = 64, 8192
PIXEL_MEAN = (0.0, 255.0)
PIXEL_STD = (1e-6, 255.0)


def dataset_normalization(data: Any, channels: int) -> dict[str, Any]:
    """What the dataset's transform (``zoo.data.transform_of``) does to the 0..255 pixels a
    model was trained on, as per-channel mean and std: ``x = (pixel - mean[c]) / std[c]``.

    The dataset's own declaration, broadcast to ``channels``; a dataset that declares
    none is refused there, so an export never records another dataset's statistics.
    tests/test_deploy_export.py checks this against ``normalize_images`` itself.
    """
    from zoo.data import transform_of

    transform = transform_of(data)
    mean = np.broadcast_to(np.asarray(transform.mean, float), (channels,))
    std = np.broadcast_to(np.asarray(transform.std, float), (channels,))
    return {"pixels": "0..255", "mean": mean.tolist(), "std": std.tolist()}


def normalize(pixels: np.ndarray, normalization: dict[str, Any]) -> np.ndarray:
    """float32 ``[N, C, H, W]`` from pixels ``[N, C, H, W]`` (0..255), as the manifest says."""
    shape = (1, -1, 1, 1)
    mean = np.asarray(normalization["mean"], np.float32).reshape(shape)
    std = np.asarray(normalization["std"], np.float32).reshape(shape)
    return ((np.asarray(pixels, np.float32) - mean) / std).astype(np.float32, copy=False)


def to_nchw(images: np.ndarray) -> np.ndarray:
    """Pixels as a model takes them: ``[N, H, W]`` (grey) or ``[N, H, W, C]`` -> ``[N, C, H, W]``."""
    images = np.asarray(images)
    return images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)




def file_entries(folder: Path, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": file_sha256(folder / name), "bytes": (folder / name).stat().st_size}
            for name in names}


def publish(tmp: Path, manifest: dict[str, Any], out: Path, replace: bool = False) -> Path:
    """Write the manifest into ``tmp`` (last) and publish ``tmp`` as ``out``
    (``zoo.atomic.publish_dir``: everything fsynced, one rename).

    The rename is the check and the publication in one step: renaming a folder onto a
    folder that holds anything fails, so of two exports racing for one ``out`` exactly
    one wins and the other is refused, whatever either saw when it started.  Only with
    ``replace`` (--force) is an existing ``out`` moved aside first and put back if the
    rename fails.
    """
    write_synced(tmp / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False).encode("utf-8"))
    try:
        return publish_dir(tmp, out, replace=replace)
    except FileExistsError:
        raise ExportError(f"--out {out} appeared while exporting (another export?); it was "
                          "left as it is and nothing was written; --force replaces it") from None
    except OSError as exc:
        raise ExportError(f"cannot write export {out}: {exc.strerror or one_line(exc)}") from None


def _fail(folder: Path, problem: str) -> ExportError:
    return ExportError(f"export {folder}: {problem}")


def _missing_manifest(folder: Path) -> str:
    """Why there is no manifest, and what to run instead when the folder is a training run
    (its exports, if any, are the folders to use)."""
    if RunDir(folder).job_file.is_file() or RunDir(folder).checkpoints.is_dir():
        made = sorted(p.name for p in folder.glob("export-*") if (p / MANIFEST).is_file())
        if made:
            return (f"this is a training run, not an export; use one of its exports: "
                    f"{', '.join(str(folder / name) for name in made)}")
        return (f"this is a training run, not an export; run `zoo export {folder}` first "
                f"(it writes {folder / 'export-paddle'}), then use that folder")
    return f"{MANIFEST} missing (not an export, or an incomplete one)"


def read_manifest(folder: Path) -> dict[str, Any]:
    """The verified manifest of export ``folder``: every field checked, every file's size
    and sha256 equal to what the manifest says."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _fail(folder, "no such export folder" if not folder.exists() else "not a folder")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(folder, _missing_manifest(folder)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(folder, f"{MANIFEST} unreadable or not valid JSON ({one_line(exc)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise _fail(folder, f"unknown manifest format {found!r} (expected {FORMAT!r})")
    _check_fields(folder, manifest)
    _check_files(folder, manifest)
    return manifest


def _check_fields(folder: Path, manifest: dict[str, Any]) -> None:
    fmt = manifest.get("export_format")
    if fmt not in MODEL_FILES:
        raise _fail(folder, f"export_format {fmt!r} is not one of {', '.join(MODEL_FILES)}")
    shape = (manifest.get("input") or {}).get("shape")
    if not (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise _fail(folder, f"input.shape must be [C, H, W] of positive integers, got {shape!r}")
    if shape[0] > MAX_CHANNELS or max(shape[1:]) > MAX_SIDE:
        raise _fail(folder, f"input.shape {shape} is beyond what zoo serves (at most "
                            f"{MAX_CHANNELS} channels of {MAX_SIDE}x{MAX_SIDE} pixels)")
    names = manifest.get("class_names")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise _fail(folder, "class_names must be a non-empty list of strings")
    norm = manifest.get("normalization") or {}
    for key in ("mean", "std"):
        values = norm.get(key)
        if not (isinstance(values, list) and len(values) == shape[0]
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)):
            raise _fail(folder, f"normalization.{key} must hold {shape[0]} finite numbers "
                                f"(one per channel), got {values!r}")
    # Pixels are 0..255, so are their means; a std far below one grey level (1e-300 is 0
    # in float32) divides by zero and serves garbage probabilities.
    if not all(PIXEL_MEAN[0] <= v <= PIXEL_MEAN[1] for v in norm["mean"]):
        raise _fail(folder, f"normalization.mean must lie in {PIXEL_MEAN[0]}..{PIXEL_MEAN[1]} "
                            f"(means of 0..255 pixels), got {norm['mean']!r}")
    if not all(PIXEL_STD[0] <= v <= PIXEL_STD[1] for v in norm["std"]):
        raise _fail(folder, f"normalization.std must lie in {PIXEL_STD[0]:g}..{PIXEL_STD[1]} "
                            f"(standard deviations of 0..255 pixels), got {norm['std']!r}")


def _check_files(folder: Path, manifest: dict[str, Any]) -> None:
    files = manifest.get("files")
    allowed = MODEL_FILES[manifest["export_format"]]
    if not isinstance(files, dict) or tuple(sorted(files)) not in {tuple(sorted(s)) for s in allowed}:
        expected = " or ".join(" + ".join(s) for s in allowed)
        raise _fail(folder, f"manifest must list exactly {expected}")
    for name, meta in files.items():
        if not (isinstance(meta, dict) and isinstance(meta.get("bytes"), int)
                and isinstance(meta.get("sha256"), str)):
            raise _fail(folder, f"manifest entry for {name} is malformed")
        path = folder / name
        if not path.is_file():
            raise _fail(folder, f"{name} missing")
        size = path.stat().st_size
        if size != meta["bytes"]:
            raise _fail(folder, f"{name} is {size} bytes, manifest says {meta['bytes']} "
                                "(file changed or truncated)")
        if file_sha256(path) != meta["sha256"]:
            raise _fail(folder, f"{name} sha256 mismatch (file changed or damaged)")


def model_path(folder: Path, manifest: dict[str, Any], suffix: str) -> Path:
    """The export's file ending in ``suffix`` (``.onnx``, ``.pdiparams``, a program file)."""
    for name in manifest["files"]:
        if name.endswith(suffix):
            return Path(folder) / name
    raise _fail(folder, f"holds no {suffix} file ({manifest['export_format']} export)")


def paddle_program(folder: Path, manifest: dict[str, Any]) -> Path:
    """The export's Paddle program file (``model.json``, or ``model.pdmodel`` before Paddle 3)."""
    program = [n for n in manifest["files"] if n.endswith((".json", ".pdmodel"))]
    if not program:
        raise _fail(folder, f"holds no Paddle program ({manifest['export_format']} export)")
    return Path(folder) / program[0]
