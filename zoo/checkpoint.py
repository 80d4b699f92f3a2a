"""Training checkpoints on disk: atomic, verified, pickle-free.

``<out>/checkpoints/step-000000123/`` holds ``arrays.npz`` (flat dict of numpy arrays),
``state.json`` (JSON-able dict) and ``manifest.json`` (sizes + sha256 of both), written
last: a folder without a valid manifest is an incomplete or corrupt save. Paddle is never
imported here, so this layer stays framework-free: ``zoo.safe_npz`` reads the arrays, and
plain Paddle state files are ``zoo.pdparams``'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import warnings
import zipfile
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zoo.atomic import publish_dir, staging_dir, write_synced
from zoo.errors import CheckpointError, one_line
from zoo.layout import RunDir
from zoo.safe_npz import read_npz

FORMAT = "zoo-checkpoint/1"
ARRAYS, STATE, MANIFEST = "arrays.npz", "state.json", "manifest.json"
_STEP_RE = re.compile(r"^step-(\d{9,})$")


class CheckpointWarning(UserWarning):
    """A newer checkpoint was skipped (corrupt/incomplete) or an old one could not be pruned."""


def checkpoint_name(step: int) -> str:
    """Folder name for ``step``; zero-padded so lexical order equals step order."""
    return f"step-{step:09d}"


def _step_of(path: Path) -> int:
    m = _STEP_RE.match(path.name)
    return int(m.group(1)) if m else -1


def all_finite(arrays: dict[str, np.ndarray]) -> bool:
    """True if no float/complex array holds NaN or Inf (refusing them is the caller's policy)."""
    return all(bool(np.isfinite(a).all()) for a in map(np.asarray, arrays.values())
               if np.issubdtype(a.dtype, np.inexact))


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Checkpoint folders of run dir ``out_dir``, oldest step first; [] if none."""
    return _scan(RunDir(out_dir).checkpoints)


def _scan(ckpt_dir: Path) -> list[Path]:
    if not ckpt_dir.is_dir():
        return []
    return sorted((p for p in ckpt_dir.iterdir() if p.is_dir() and _STEP_RE.match(p.name)), key=_step_of)


def file_sha256(path: Path) -> str:
    """sha256 hex of a file, read in 1 MiB blocks (checkpoints and exports verify with it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_npz(arrays: dict[str, np.ndarray], handle) -> None:
    # Same container as np.savez (uncompressed zip of .npy members), written by hand so
    # any key works (np.savez(file, **kw) chokes on a key named "file").
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def save_checkpoint(out_dir: Path, step: int, arrays: dict[str, np.ndarray], state: dict, keep: int = 3) -> Path:
    """Atomically write checkpoint ``step`` under ``out_dir/checkpoints``; return its folder.

    Files go to ``.tmp-step-...-<pid>`` and the folder is renamed into place, so a crash
    leaves the old checkpoints plus at most a ``.tmp-*`` leftover. A folder of the same
    step is replaced. Then only the newest ``keep`` valid checkpoints survive (the new one
    always does); corrupt ones older than ``step`` are removed, newer ones left to inspect.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"checkpoint step must be a non-negative int, got {step!r}")
    if keep < 1:
        raise CheckpointError(f"keep must be >= 1, got {keep}")
    checked: dict[str, np.ndarray] = {}
    for key, arr in arrays.items():
        if not isinstance(key, str) or not key:
            raise CheckpointError(f"checkpoint array names must be non-empty strings, got {key!r}")
        # Object arrays would need pickle to load back, which load_checkpoint refuses.
        if not isinstance(arr, (np.ndarray, np.generic)) or np.asarray(arr).dtype == object:
            raise CheckpointError(f"checkpoint array {key!r} must be a non-object numpy array")
        checked[key] = np.asarray(arr)
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint state must be a dict, got {type(state).__name__}")
    try:  # serialize before touching the disk so a bad state leaves nothing behind
        state_bytes = json.dumps(state, indent=1).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint state is not JSON-serializable: {one_line(e)}") from None

    ckpt_dir = RunDir(out_dir).checkpoints
    final = ckpt_dir / checkpoint_name(step)
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        with staging_dir(final) as tmp:
            write_synced(tmp / ARRAYS, partial(_write_npz, checked))
            write_synced(tmp / STATE, state_bytes)
            files = {n: {"sha256": file_sha256(tmp / n), "bytes": (tmp / n).stat().st_size}
                     for n in (ARRAYS, STATE)}
            manifest = {"format": FORMAT, "step": step, "files": files,
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            write_synced(tmp / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
            publish_dir(tmp, final, replace=True)  # a save of the same step replaces it
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {final}: {one_line(e)}") from None
    _prune(ckpt_dir, final, step, keep)
    return final


def _prune(ckpt_dir: Path, new: Path, step: int, keep: int) -> None:
    # Validity means full verification (sizes + sha256), so newer corrupt checkpoints
    # never count towards ``keep`` and can never push the last good one out.
    kept = 1  # the one just written
    for path in reversed(_scan(ckpt_dir)):
        if path == new:
            continue
        try:
            _verify_all(path)
            valid = True
        except CheckpointError:
            valid = False
        if valid and kept < keep:
            kept += 1
        elif valid or _step_of(path) < step:
            try:
                shutil.rmtree(path)
            except OSError as e:
                warnings.warn(f"could not prune {path}: {one_line(e)}", CheckpointWarning, stacklevel=3)


def _verify(path: Path) -> dict:
    """Check the manifest and every file's size and sha256; return the manifest."""
    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {path}: {problem}")

    if not path.is_dir():
        raise fail("not a directory")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{MANIFEST} missing (incomplete save?)") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise fail(f"{MANIFEST} unreadable or not valid JSON ({one_line(e)})") from None
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt != FORMAT:
        raise fail(f"unknown manifest format {fmt!r} (expected {FORMAT!r})")
    files = manifest.get("files")
    if _STEP_RE.match(path.name) and manifest.get("step") != _step_of(path):
        raise fail(f"manifest step {manifest.get('step')!r} does not match the folder name")
    # Exactly the known names: a manifest can never point outside the folder.
    if not isinstance(files, dict) or set(files) != {ARRAYS, STATE}:
        raise fail(f"manifest must list exactly {ARRAYS} and {STATE}")
    for fname, meta in files.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("bytes"), int) or not isinstance(meta.get("sha256"), str):
            raise fail(f"manifest entry for {fname} is malformed")
        if not (path / fname).is_file():
            raise fail(f"{fname} missing")
        size = (path / fname).stat().st_size
        if size != meta["bytes"]:  # cheap check first, and a clearer message than a hash
            raise fail(f"{fname} is {size} bytes, manifest says {meta['bytes']} (file changed or truncated)")
        if file_sha256(path / fname) != meta["sha256"]:
            raise fail(f"{fname} sha256 mismatch (file changed or truncated)")
    return manifest


def _npz(path: Path, load: bool) -> dict[str, np.ndarray]:
    """Every member's header checked (``zoo.safe_npz``); with ``load``, the arrays too."""
    try:
        return read_npz(path / ARRAYS, load)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, MemoryError) as e:
        # ValueError: malformed or dishonest headers (ours and numpy's), object arrays.
        raise CheckpointError(f"checkpoint {path}: cannot load ({one_line(e)})") from None


def _verify_all(path: Path) -> dict:
    """``_verify`` plus the array headers: everything short of reading the arrays."""
    manifest = _verify(path)
    _npz(path, load=False)
    return manifest


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Verify and load one checkpoint folder -> (arrays, state). Never unpickles."""
    path = Path(path)
    _verify(path)
    arrays = _npz(path, load=True)
    try:
        state = json.loads((path / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot load ({one_line(e)})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: {STATE} is not a JSON object")
    return arrays, state


def _clean_tmp(ckpt_dir: Path) -> None:
    """Remove ``.tmp-*`` leftovers of crashed saves, but not a save running in a live process."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return
    for d in ckpt_dir.glob(".tmp-*"):
        pid = d.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)  # signal 0 only checks that the process exists
                continue
            except ProcessLookupError:
                pass
            except (PermissionError, OverflowError):
                continue
        shutil.rmtree(d, ignore_errors=True)


def _newest_valid(ckpt_dir: Path, check: Callable[[Path], Any]) -> tuple[Path, Any] | None:
    """Newest checkpoint for which ``check`` passes, warning once per newer one skipped."""
    if not ckpt_dir.is_dir():
        return None
    _clean_tmp(ckpt_dir)
    skipped: list[CheckpointError] = []
    for path in reversed(_scan(ckpt_dir)):
        try:
            result = check(path)
        except CheckpointError as e:
            skipped.append(e)
            continue
        for e in skipped:
            warnings.warn(f"skipped {e}; using {path} instead", CheckpointWarning, stacklevel=3)
        return path, result
    if skipped:  # silently starting from scratch would throw away the run's work
        raise CheckpointError(f"no valid checkpoint in {ckpt_dir}: {len(skipped)} corrupt (newest: {skipped[0]})")
    return None


def latest_checkpoint(out_dir: Path) -> tuple[Path, dict[str, np.ndarray], dict] | None:
    """Load the newest valid checkpoint of run dir ``out_dir`` -> (folder, arrays, state).

    None if there are no checkpoints; CheckpointError if there are some but none is valid.
    """
    found = _newest_valid(RunDir(out_dir).checkpoints, load_checkpoint)
    return None if found is None else (found[0], *found[1])


def resolve_checkpoint(path: Path) -> Path:
    """Map a run dir, its ``checkpoints/`` dir or a checkpoint folder to one checkpoint folder.

    Directories resolve to their newest checkpoint that verifies; a checkpoint folder is
    returned as is (``load_checkpoint`` verifies it).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no such checkpoint or run directory: {path}")
    if path.is_dir() and (_STEP_RE.match(path.name) or (path / MANIFEST).exists()):
        return path
    for ckpt_dir in (RunDir(path).checkpoints, path):
        found = _newest_valid(ckpt_dir, _verify_all) if _scan(ckpt_dir) else None
        if found is not None:
            return found[0]
    raise CheckpointError(f"no checkpoint found at {path} (expected a run dir, its checkpoints/ or a step-NNNNNNNNN folder)")
