"""Rebuilding a trained model from a checkpoint (ours, or a plain Paddle .pdparams)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import checkpoint as ckpt
from zoo.errors import CheckpointError
from zoo.layout import RunDir
from zoo.pdparams import load_paddle_state
from zoo.train.state import MODEL_PREFIX

if TYPE_CHECKING:
    from zoo.plugin.facade import Catalog


def load_model(catalog: Catalog, path: Path, *, model: str | None = None, trust: bool = False,
               data_dir: str | None = None, dataset: str | None = None):
    """(model, dataset, settings) for a run dir, checkpoint folder or .pdparams file.

    A run's checkpoint names its own dataset; a plain .pdparams file does not, so
    ``dataset`` says which one it was trained on (its shape and classes build the model).
    """
    import paddle

    if path.suffix in (".pdparams", ".pdopt"):
        if model is None:
            raise CheckpointError(f"{path}: a plain .pdparams file needs --model to say what it holds")
        if dataset is None:  # never guessed: its shape, classes and normalization build the model
            raise CheckpointError(f"{path}: a plain .pdparams file needs --dataset to say what it "
                                  f"was trained on")
        arrays = {k: v for k, v in load_paddle_state(path, trust=trust).items()
                  if hasattr(v, "shape")}
        settings: dict[str, Any] = {"model": model, "dataset": dataset, "params": {}}
    else:
        folder = ckpt.resolve_checkpoint(path)
        arrays, state = ckpt.load_checkpoint(folder)
        if data_dir is None:  # evaluate on the data the run was trained on unless told otherwise
            data_dir = _trained_data_dir(RunDir(folder.parent.parent))
        arrays = {k[len(MODEL_PREFIX):]: v for k, v in arrays.items() if k.startswith(MODEL_PREFIX)}
        settings, path = state["settings"], folder
    params = settings.get("params", {})
    data = catalog.build("datasets", settings["dataset"],
                         {**params.get("datasets", {}), "progress": False}, data_dir=data_dir)
    with paddle.utils.unique_name.guard():
        net = catalog.build("models", settings["model"], params.get("models", {}),
                            input_shape=tuple(data.input_shape), num_classes=int(data.num_classes))
    own = dict(net.named_parameters())
    if set(arrays) != set(own):
        raise CheckpointError(f"{path}: parameters do not match model '{settings['model']}' "
                              f"(missing {sorted(set(own) - set(arrays))[:3]}, "
                              f"unexpected {sorted(set(arrays) - set(own))[:3]})")
    for name, param in own.items():
        if tuple(arrays[name].shape) != tuple(param.shape):
            raise CheckpointError(f"{path}: parameter '{name}' has shape {list(arrays[name].shape)}, "
                                  f"model has {list(param.shape)}")
        param.set_value(arrays[name])
    return net, data, settings, path


def evaluate_checkpoint(catalog: Catalog, path: Path, split: str, *, data_dir: str | None = None,
                        model: str | None = None, trust: bool = False,
                        dataset: str | None = None) -> dict[str, Any]:
    from zoo.data import transform_of
    from zoo.train.evaluate import evaluate

    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    net, data, settings, source = load_model(catalog, path, model=model, trust=trust,
                                             data_dir=data_dir, dataset=dataset)
    result = evaluate(net, getattr(data, split), num_classes=int(data.num_classes),
                      transform=transform_of(data))
    names = [str(c) for c in (getattr(data, "class_names", None) or range(data.num_classes))]
    return {"checkpoint": str(source), "model": settings["model"], "dataset": settings["dataset"],
            "split": split, "loss": result.loss, "accuracy": result.accuracy, "samples": result.samples,
            "per_class_accuracy": result.per_class_accuracy(), "class_names": names,
            "per_class": [{"class": name, **scores}
                          for name, scores in zip(names, result.per_class_scores())],
            "confusion": result.confusion.tolist()}


def _trained_data_dir(run: RunDir) -> str | None:
    """The data folder a run trained on: job.json's (zoo bench, zoo train) or, for a run
    that Python's ``zoo.train`` made (no job.json), the job metrics.json records."""
    for file, read in ((run.job_file, lambda d: d), (run.metrics_file, lambda d: d.get("job") or {})):
        try:
            return read(json.loads(file.read_text())).get("data_dir")
        except (OSError, ValueError, AttributeError):
            continue
    return None
