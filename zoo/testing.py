"""A kit for plugin authors' tests: load the catalogue strictly, build entries, train a step.

Use it from pytest; add this to your ``conftest.py`` for the ``zoo_catalog`` fixture::

    pytest_plugins = ["zoo.testing"]

Importing this module does not import paddle: each check imports it when it runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.plugin import Catalog, load_catalog
from zoo.registry import Entry

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixture
    pytest = None

__all__ = ["check_entry_builds", "check_entry_defaults", "check_model_trains", "check_public_surface",
           "entries_of", "load_plugin_catalog"]


def check_public_surface(*paths: str | Path, own: Iterable[str] = ()) -> list[Path]:
    """Fail, naming each line, if the .py files at ``paths`` (files or folders) use any zoo
    module or name outside the public surface (``zoo.__all__``, and ``zoo.testing``).
    ``own`` are the plugin's own packages when they live under ``zoo.``.  Returns the files
    checked, so a test can see that it checked something."""
    from zoo.surface import breaches, python_files

    files = python_files(paths)
    found = [line for f in files for line in breaches(f.read_text(encoding="utf-8"), own, str(f))]
    assert not found, "outside zoo's public surface:\n" + "\n".join(found)
    return files


def load_plugin_catalog() -> Catalog:
    """The catalogue in strict mode: a plugin that fails to load or register raises."""
    return load_catalog(strict=True)


def entries_of(plugin_name: str, catalog: Catalog | None = None) -> list[Entry]:
    """Every entry (all kinds) registered by plugin ``plugin_name``, e.g. its entry-point name.

    Raises AssertionError if no plugin of that name was loaded, so a test that loops over
    the result cannot pass vacuously because the plugin is not installed.
    """
    catalog = load_plugin_catalog() if catalog is None else catalog
    loaded = [p.name for p in catalog.plugins if p.status == "ok"]
    assert plugin_name in loaded, (f"plugin '{plugin_name}' is not loaded (loaded: "
                                   f"{', '.join(loaded)}); is its distribution installed?")
    return [e for e in catalog.registry.entries() if e.plugin == plugin_name]


def check_entry_builds(entry: Entry, catalog: Catalog | None = None, *,
                       input_shape: tuple[int, ...] | None = None,
                       num_classes: int | None = None) -> object:
    """Build ``entry`` with a small context for its kind and check what it returns.

    models: ``input_shape`` and ``num_classes``, which a model entry needs (those of the
    data it is meant for: zoo assumes no dataset) -> ``paddle.nn.Layer``.
    optimizers: a tiny Linear's parameters, its ``learning_rate`` default (else 0.01)
    -> ``paddle.optimizer.Optimizer``.  schedules: ``learning_rate=0.01, total_steps=100``
    -> ``LRScheduler`` whose rate stays finite over 100 steps.  regularizers: ``None`` or a
    ``WeightDecayRegularizer``.  launchers: built with no context, must not be ``None``.
    backends: built with no context -> ``zoo.Backend`` whose ``format`` is paddle or onnx.
    pruners: built with no context -> ``zoo.Pruner``.  searchers: -> ``zoo.Searcher``.
    datasets are NOT built (that may download or need data): only the factory is checked
    to be callable, and it is returned.  Otherwise returns the built object.
    Raises AssertionError with the entry's name when anything is wrong.
    """
    import paddle

    catalog = load_plugin_catalog() if catalog is None else catalog
    kind, label = entry.kind, f"{entry.kind[:-1]} '{entry.name}' (plugin '{entry.plugin}')"
    if kind == "datasets":
        assert callable(entry.factory), f"{label}: factory is not callable"
        return entry.factory
    context: dict[str, Any] = {}
    if kind == "models":
        assert input_shape is not None and num_classes is not None, \
            f"{label}: pass input_shape and num_classes (the shape and classes of the data it is for)"
        context = {"input_shape": tuple(input_shape), "num_classes": num_classes}
    elif kind == "optimizers":
        lr = catalog.params(kind, entry.name).get("learning_rate", 0.01)
        context = {"parameters": paddle.nn.Linear(4, 2).parameters(), "learning_rate": lr,
                   "weight_decay": None}
    elif kind == "schedules":
        context = {"learning_rate": 0.01, "total_steps": 100}
    try:
        built = catalog.build(kind, entry.name, **context)
    except ZooError as exc:
        raise AssertionError(f"{label} failed to build: {exc}") from exc
    expected: Any = {"models": paddle.nn.Layer, "optimizers": paddle.optimizer.Optimizer,
                     "schedules": paddle.optimizer.lr.LRScheduler,
                     "regularizers": (type(None), paddle.regularizer.WeightDecayRegularizer)}
    if kind == "backends":
        from zoo.backend import EXPORT_FORMATS, Backend

        expected["backends"] = Backend
        assert getattr(built, "format", None) in EXPORT_FORMATS, \
            f"{label}: format {getattr(built, 'format', None)!r} is not one of {EXPORT_FORMATS}"
    if kind == "pruners":
        from zoo.pruner import Pruner

        expected["pruners"] = Pruner
    if kind == "searchers":
        from zoo.searcher import Searcher

        expected["searchers"] = Searcher
    if kind in expected:
        assert isinstance(built, expected[kind]), \
            f"{label} built {type(built).__name__}, expected {expected[kind]}"
    else:
        assert built is not None, f"{label} built None"
    if kind == "schedules":
        for step in range(100):
            lr = float(built.last_lr)
            assert math.isfinite(lr), f"{label}: learning rate {lr} at step {step}"
            built.step()
    return built


def check_entry_defaults(entry: Entry) -> dict[str, Any]:
    """The entry's declared defaults agree with its factory's signature; returns them.

    A factory's keyword-only parameters are where its defaults live.  ``register`` already
    refuses a disagreement; this check lets a plugin's own tests say so too, and catches
    an Entry built by hand.  Raises AssertionError naming the parameter.
    """
    from zoo.registry import defaults_problem

    problem = defaults_problem(entry.factory, entry.defaults)
    assert not problem, f"{entry.kind[:-1]} '{entry.name}' (plugin '{entry.plugin}'): {problem}"
    return dict(entry.defaults)


def check_model_trains(model_factory_or_entry: Entry | Callable[..., Any],
                       input_shape: tuple[int, ...], num_classes: int,
                       batch_size: int = 4) -> float:
    """Build a model, train it one SGD step on a random batch, and return the loss.

    Accepts an Entry (built with its declared defaults) or ``factory(input_shape,
    num_classes)``.  Checks: logits are ``[batch_size, num_classes]``, the cross-entropy
    is finite, every trainable parameter gets a finite gradient, not all of them zero, and
    every parameter with a non-zero gradient changes.  A gradient that is exactly zero is
    no fault: a bias feeding only a batch-normalized layer gets none, whatever the data
    (normalization removes any constant shift), as in MobileNet v2 and ShuffleNet v2.
    """
    import numpy as np
    import paddle

    if isinstance(model_factory_or_entry, Entry):
        entry = model_factory_or_entry
        model = entry.factory(input_shape, num_classes, **entry.params())
    else:
        model = model_factory_or_entry(input_shape, num_classes)
    assert isinstance(model, paddle.nn.Layer), f"built {type(model).__name__}, not a Layer"
    model.train()
    x = paddle.randn([batch_size, *input_shape], dtype="float32")
    labels = paddle.randint(0, num_classes, [batch_size], dtype="int64")
    logits = model(x)
    assert list(logits.shape) == [batch_size, num_classes], \
        f"logits shape {list(logits.shape)}, expected {[batch_size, num_classes]}"
    loss = paddle.nn.functional.cross_entropy(logits, labels)
    value = float(loss)
    assert math.isfinite(value), f"loss is {value}"
    loss.backward()
    params = {name: p for name, p in model.named_parameters() if not p.stop_gradient}
    assert params, "the model has no trainable parameters"
    bad = [name for name, p in params.items()
           if p.grad is None or not np.isfinite(p.grad.numpy()).all()]
    assert not bad, f"parameters without a finite gradient: {', '.join(bad)}"
    moving = [name for name, p in params.items() if np.any(p.grad.numpy() != 0)]
    assert moving, "every gradient is zero: the loss does not depend on any parameter"
    before = {name: p.numpy().copy() for name, p in params.items()}
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=list(params.values()))
    optimizer.step()
    optimizer.clear_grad()
    same = [name for name in moving if np.array_equal(before[name], params[name].numpy())]
    assert not same, f"parameters unchanged by an SGD step: {', '.join(same)}"
    return value


if pytest is not None:
    @pytest.fixture(scope="session")
    def zoo_catalog() -> Catalog:
        """The strictly loaded catalogue, shared by the whole test session."""
        return load_plugin_catalog()
