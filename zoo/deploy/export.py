"""``zoo export``: a trained checkpoint -> a self-contained inference export folder.

The model is saved as a static program with ``paddle.jit.save`` (input ``[None, C, H, W]``
from the run's dataset) and, for ``onnx``, converted with paddle2onnx.  Before the folder
is published, the export is loaded back with its format's default backend and compared
with the trained dygraph model on real test images; an export that disagrees is never
written, not even in part.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from zoo.checkpoint import file_sha256
from zoo.deploy import manifest as mf
from zoo.deploy.agreement import TOLERANCE, agreement
from zoo.deploy.onnx_extra import INSTALL_HINT, missing
from zoo.errors import ExportError, one_line
from zoo.layout import RunDir
from zoo.plugin.guard import flush_c_stdio

FORMATS = ("paddle", "onnx")
# The backend `zoo predict` and the agreement check use for each format, from benchmarks/
# RESULTS.md (section "inference", course CNN on 2 cores): ONNX Runtime has by far the
# lowest batch-1 latency (p50 0.09 ms against 0.34-0.52 ms), which is what predicting a few
# files needs; for a paddle export, Paddle Inference with oneDNN is 5-6x the dygraph
# backends' throughput and within 0.04 ms of the best batch-1 p50.
DEFAULT_BACKEND = {"paddle": "paddle-inference", "onnx": "onnxruntime"}
OPSET = 13  # supported by every onnxruntime since 1.8 and by TensorRT's ONNX parser
CHECK_IMAGES = 256


def default_out(source: Path, checkpoint: Path, fmt: str) -> Path:
    """``RUN/export-FORMAT`` for a run's checkpoint, else ``NAME-export-FORMAT`` beside it."""
    run = checkpoint.parent.parent
    if checkpoint.is_dir() and RunDir(run).job_file.is_file():
        return run / f"export-{fmt}"
    return source.with_name(f"{source.stem}-export-{fmt}")


def _refuse_existing(out: Path, force: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"--out {out}: a file is in the way (not a folder)")
    if not any(out.iterdir()):
        out.rmdir()  # an empty folder holds nothing to lose
        return
    if not force:
        raise ExportError(f"--out {out} already exists; choose another folder, or --force to replace it")
    if not (out / mf.MANIFEST).is_file():
        raise ExportError(f"--out {out} is not an export folder (no {mf.MANIFEST}); refusing to replace it")


def export_checkpoint(catalog, source: Path, fmt: str, out: Path | None = None, *,
                      force: bool = False, check_images: int = CHECK_IMAGES,
                      data_dir: str | None = None, model: str | None = None,
                      dataset: str | None = None, trust: bool = False) -> tuple[Path, dict[str, Any]]:
    """Export the newest good checkpoint of ``source`` (a run, checkpoint or .pdparams)."""
    from zoo.checkpoint import ARRAYS
    from zoo.data import transform_of
    from zoo.paths import make_dir
    from zoo.train.restore import load_model

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (formats: {', '.join(FORMATS)})")
    if fmt == "onnx" and missing("paddle2onnx", "onnxruntime"):
        raise ExportError(f"--format onnx needs {missing('paddle2onnx', 'onnxruntime')}, which is "
                          f"not installed: {INSTALL_HINT}")
    if not source.exists():
        raise ExportError(f"{source}: no such run, checkpoint or .pdparams file")
    net, data, settings, checkpoint = load_model(catalog, source, model=model, trust=trust,
                                                 data_dir=data_dir, dataset=dataset)
    net.eval()
    out = (out or default_out(source, checkpoint, fmt)).absolute()
    _refuse_existing(out, force)
    make_dir(out.parent, "--out")
    shape = [int(d) for d in data.input_shape]
    num_classes = int(data.num_classes)
    params = settings.get("params", {})
    draft: dict[str, Any] = {
        "format": mf.FORMAT, "export_format": fmt, "model": settings["model"],
        "model_params": catalog.params("models", settings["model"], params.get("models", {})),
        "dataset": settings["dataset"],
        "dataset_params": {k: v for k, v in params.get("datasets", {}).items() if k != "progress"},
        "class_names": [str(n) for n in (getattr(data, "class_names", None) or range(num_classes))],
        "input": {"name": mf.INPUT_NAME, "shape": shape, "dtype": "float32", "layout": "NCHW"},
        "normalization": mf.dataset_normalization(data, shape[0]),
        "source": {"checkpoint": str(Path(checkpoint).absolute()),
                   "sha256": file_sha256(checkpoint / ARRAYS if checkpoint.is_dir() else checkpoint)},
    }
    tmp = out.with_name(f".tmp-{out.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        draft.update(_write_model(net, shape, fmt, tmp))
        draft["files"] = mf.file_entries(tmp, tuple(sorted(p.name for p in tmp.iterdir())))
        images = data.test.images[:check_images]
        draft["agreement"] = check(catalog, DEFAULT_BACKEND[fmt], tmp, draft, net, images,
                                   transform_of(data))
        draft["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        from zoo import __version__

        draft["zoo_version"] = __version__
        return mf.publish(tmp, draft, out, replace=force), draft
    except OSError as exc:
        raise ExportError(f"cannot write export {out}: {exc.strerror or one_line(exc)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_model(net, shape: list[int], fmt: str, folder: Path) -> dict[str, Any]:
    import paddle

    from zoo.plugin.guard import stdout_to_stderr

    spec = [paddle.static.InputSpec([None, *shape], "float32", mf.INPUT_NAME)]
    target = folder if fmt == "paddle" else Path(tempfile.mkdtemp(prefix="zoo-export-"))
    try:
        # Paddle and paddle2onnx print progress on stdout, which may be carrying --json.
        with stdout_to_stderr():
            try:
                paddle.jit.save(net, str(target / "model"), input_spec=spec)
            except Exception as exc:  # dy2static raises many types for untraceable code
                raise ExportError(f"the model cannot be saved as a static program: {one_line(exc)}") from None
            if fmt == "paddle":
                return {"paddle_version": paddle.__version__, "opset": None}
            program = next(p for p in target.iterdir() if p.suffix in (".json", ".pdmodel"))
            opset = _to_onnx(program, target / "model.pdiparams", folder / "model.onnx")
        return {"paddle_version": paddle.__version__, "opset": opset}
    finally:
        if target is not folder:
            shutil.rmtree(target, ignore_errors=True)


def _to_onnx(program: Path, params: Path, onnx_file: Path) -> int:
    import onnx
    import paddle2onnx

    with captured() as log:
        try:
            # optimize_tool="none": the default (polygraphy) pip-installs packages from the
            # network while it runs; onnxruntime optimizes the graph itself when it loads it.
            paddle2onnx.export(str(program), str(params), str(onnx_file), opset_version=OPSET,
                               enable_onnx_checker=True, optimize_tool="none")
        except Exception as exc:
            # paddle2onnx logs its own error, then fails on the model it never made.
            log.failed = f"paddle2onnx could not convert the model: {one_line(exc)}"
        if not log.failed and not onnx_file.is_file():
            log.failed = "paddle2onnx wrote no model"
    if log.failed:
        raise ExportError(f"{log.failed} (its messages are above)")
    model = onnx.load(str(onnx_file))
    return max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


class _Log:
    failed = ""


@contextmanager
def captured() -> Iterator[_Log]:
    """Hold back what the block prints, at the file-descriptor level (C++ code prints too),
    and show it on stderr only if the block set ``failed``: a good conversion is silent."""
    log = _Log()
    with tempfile.TemporaryFile("w+b") as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield log
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            flush_c_stdio()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if log.failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))
                sys.stderr.flush()


def check(catalog, backend_name: str, folder: Path, manifest: dict[str, Any], net,
          images: np.ndarray, transform) -> dict[str, Any]:
    """Load ``folder`` with ``backend_name`` on CPU and compare it with ``net`` fed as in
    training (``transform``) on ``images``; an ExportError when they disagree (the caller
    then writes nothing)."""
    backend = catalog.build("backends", backend_name)
    problem = backend.problem("cpu")
    if problem:
        raise ExportError(f"cannot check the export: {problem}")
    backend.load(folder, manifest, "cpu")
    try:
        found = agreement(backend, net, images, manifest["normalization"], transform)
    finally:
        backend.close()
    if not found["agrees"]:
        raise ExportError(
            f"the {manifest['export_format']} export disagrees with the trained model on "
            f"{found['images']} test images ({backend_name}): max |diff| {found['max_abs_diff']:.3g} "
            f"(limit {TOLERANCE:g}), {found['classes_differ']} predicted classes differ; nothing was written")
    return {"backend": backend_name, **found}
