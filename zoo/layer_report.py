"""Look inside a model: per-layer output shapes, parameters and activation statistics.

Core logic only: it returns data and never prints (the CLI formats it).  paddle is
imported inside the functions, so importing this module stays cheap.

Dead-unit rule (``content=True``): a *unit* is a channel of a 4-D output ``[N, C, H, W]``
or a feature of a 2-D output ``[N, F]``.  A unit is dead when it is exactly zero for
every sample and position of the batch.  A layer's status is ``"dead"`` when all its
units are dead, ``"warn"`` when at least half are (``WARN_FRACTION``), else ``"ok"``;
outputs of other ranks get no unit count and status ``"ok"``.  Exact zeros (not
"small") are what a saturated ReLU produces, so there is no tolerance to tune.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

WARN_FRACTION = 0.5


@dataclass
class LayerReport:
    """One call of one leaf layer (a layer called twice appears twice)."""

    name: str  # structured name, e.g. "conv1" or "blocks.0.conv"
    type: str
    output_shape: list[int] | None  # None: the layer was never called by forward()
    param_shapes: list[list[int]] = field(default_factory=list)  # own parameters only
    params: int = 0
    trainable_params: int = 0
    # Filled only with content=True:
    mean: float | None = None
    std: float | None = None
    zero_fraction: float | None = None
    units: int | None = None
    dead_units: int | None = None
    status: str | None = None  # "ok" | "warn" | "dead"


@dataclass
class InspectReport:
    """The layers in call order plus totals; iterates (and indexes) like the layer list."""

    layers: list[LayerReport]
    batch_size: int
    total_params: int  # every parameter of the model, also those held by non-leaf layers
    trainable_params: int
    content: bool = False

    def __iter__(self) -> Iterator[LayerReport]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def by_name(self, name: str) -> LayerReport:
        return next(layer for layer in self.layers if layer.name == name)

    def flagged(self, status: str = "dead") -> list[LayerReport]:
        return [layer for layer in self.layers if layer.status == status]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_paddle():
    """paddle, without its irrelevant 'No ccache found' warning on every CLI run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No ccache found")
        import paddle
    return paddle


def activation_stats(out: np.ndarray) -> dict[str, Any]:
    """mean / std / exact-zero fraction, and dead units for 2-D and 4-D outputs."""
    values = out.astype(np.float64, copy=False)
    stats: dict[str, Any] = {
        "mean": float(values.mean()) if values.size else 0.0,
        "std": float(values.std()) if values.size else 0.0,
        "zero_fraction": float((values == 0).mean()) if values.size else 0.0,
        "units": None, "dead_units": None, "status": "ok",
    }
    if values.ndim in (2, 4) and values.shape[1] > 0:
        # A unit is axis 1; it is dead if no sample and no position is non-zero.
        other_axes = tuple(a for a in range(values.ndim) if a != 1)
        alive = np.any(values != 0, axis=other_axes)
        units, dead = int(alive.size), int(alive.size - alive.sum())
        stats.update(units=units, dead_units=dead)
        if dead == units:
            stats["status"] = "dead"
        elif dead >= WARN_FRACTION * units:
            stats["status"] = "warn"
    return stats


def _first_tensor(output, tensor_type):
    # Layers such as RNNs return tuples; the first tensor is the one passed on.
    if isinstance(output, (tuple, list)):
        return next((o for o in output if isinstance(o, tensor_type)), None)
    return output if isinstance(output, tensor_type) else None


def _own_params(layer) -> tuple[list[list[int]], int, int]:
    params = layer.parameters(include_sublayers=False)
    shapes = [list(p.shape) for p in params]
    count = sum(int(np.prod(s)) for s in shapes)
    trainable = sum(int(np.prod(p.shape)) for p in params if not p.stop_gradient)
    return shapes, count, trainable


def inspect_model(model, batch: np.ndarray, content: bool = False) -> InspectReport:
    """Run ``batch`` (float32 ``[N, C, H, W]``) through ``model`` once and report each leaf.

    Forward post hooks on every leaf sublayer record, in call order, the output shape
    and the layer's own parameters (and, with ``content=True``, activation statistics).
    Leaves that forward() never called are appended with ``output_shape=None``.  The
    model runs in eval mode without gradients; its previous mode is restored and the
    hooks are always removed.
    """
    paddle = import_paddle()
    leaves = [(name, layer) for name, layer in model.named_sublayers(include_self=True)
              if not layer.sublayers()]
    reports: list[LayerReport] = []
    called: set[int] = set()

    def make_hook(name):
        def hook(layer, inputs, output):
            tensor = _first_tensor(output, paddle.Tensor)
            shapes, count, trainable = _own_params(layer)
            report = LayerReport(name or type(layer).__name__, type(layer).__name__,
                                 None if tensor is None else list(tensor.shape),
                                 shapes, count, trainable)
            if content and tensor is not None:
                for key, value in activation_stats(tensor.numpy()).items():
                    setattr(report, key, value)
            reports.append(report)
            called.add(id(layer))
        return hook

    handles = [layer.register_forward_post_hook(make_hook(name)) for name, layer in leaves]
    was_training = model.training
    try:
        model.eval()
        with paddle.no_grad():
            model(paddle.to_tensor(np.ascontiguousarray(batch, dtype=np.float32)))
    finally:
        for handle in handles:
            handle.remove()
        if was_training:
            model.train()
    for name, layer in leaves:
        if id(layer) not in called:
            shapes, count, trainable = _own_params(layer)
            reports.append(LayerReport(name, type(layer).__name__, None, shapes, count,
                                       trainable))
    total = sum(int(np.prod(p.shape)) for p in model.parameters())
    trainable = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    return InspectReport(reports, len(batch), total, trainable, content)


def random_batch(input_shape, batch_size: int, seed: int = 0) -> np.ndarray:
    """Uniform values in [-1, 1] (the range of normalized images): enough for shapes."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(batch_size, *input_shape)).astype(np.float32)


def data_batch(images: np.ndarray, batch_size: int, seed: int, transform) -> np.ndarray:
    """``batch_size`` uint8 images picked with ``seed``, normalized as evaluation sees them
    (``transform``: the dataset's ``zoo.data.Transform``)."""
    from zoo.data import normalize_images

    plain = transform
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(images), size=min(batch_size, len(images)), replace=False))
    return normalize_images(images[idx], plain.mean, plain.std)


__all__ = ["InspectReport", "LayerReport", "WARN_FRACTION", "activation_stats", "data_batch",
           "import_paddle", "inspect_model", "random_batch"]
