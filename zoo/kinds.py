"""The table of kinds: every kind of catalogue entry, declared once.

Derived from this table, with no edit elsewhere: the registry's kinds and their names in
messages, registry.toml's ``[grid]`` axes and ``[defaults]`` tables, ``--set KIND.PARAM``
prefixes, the entries of a training Job and of a sweep Cell, the grid's product, the
results store's columns, the tables' columns, ``zoo bench``'s axis options and the
``build_<singular>`` builders a wrapping factory receives.  A row here and its hook in
``zoo.hookspecs`` are enough for a kind to flow through all of that (tests/test_kinds.py
adds a test-only kind this way and follows it through a sweep).  A kind that does
something touches more, which no table writes: its built-ins (a module in ``plugins/``,
listed in registry.toml), the code that builds and uses it (``train/loop.py`` for a
trained kind, a command for another), a public base class exported from
``zoo/__init__.py`` if it has behaviour, ``zoo.testing``'s check of what its factories
return, its tests, and the docs (README, ARCHITECTURE.md's "Adding a kind"): 6 to 9 files.

Pure data: importing it costs nothing and imports neither pluggy nor paddle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str  # plural: the registry's key, `zoo list KIND`, registry.toml [defaults.KIND]
    singular: str  # in messages and as the `--set KIND.PARAM=VALUE` prefix
    field: str  # a Job's and a Cell's attribute, a store and table column
    flag: str | None  # `zoo bench`'s option selecting names or globs (None: not swept)
    axis: str | None  # the key in registry.toml's [grid] and grid files (None: not swept)
    trained: bool  # a training run builds it, so a worker's Job names it
    default: str | None  # `zoo train`'s default choice (None: no option there)
    returns: str  # what its factories return: the public contract, see zoo.hookspecs
    # What zoo passes every factory of this kind besides its parameters, in the order of
    # ``build_<singular>(name, *context)``: the builder a factory of any kind receives when
    # it declares that parameter (a schedule wrapping another, as `warmup` does).
    context: tuple[str, ...] = ()

    @property
    def hook(self) -> str:
        """The hook plugins implement to register entries of this kind."""
        return f"zoo_register_{self.name}"


KINDS: tuple[Kind, ...] = (
    Kind("datasets", "dataset", "dataset", "--datasets", "datasets", True, "mnist",
         "zoo.Dataset", ("data_dir",)),
    Kind("models", "model", "model", "--models", "models", True, "cnn", "paddle.nn.Layer",
         ("input_shape", "num_classes")),
    Kind("optimizers", "optimizer", "optimizer", "--optimizers", "optimizers", True, "adam",
         "paddle.optimizer.Optimizer", ("parameters", "learning_rate", "weight_decay")),
    Kind("schedules", "schedule", "schedule", "--schedules", "schedules", True, "constant",
         "paddle.optimizer.lr.LRScheduler", ("learning_rate", "total_steps")),
    Kind("regularizers", "regularizer", "regularizer", "--regularizers", "regularizers", True,
         "none", "paddle.regularizer.WeightDecayRegularizer or None"),
    # `--launch` and the column `launch` are what users have typed since the course.
    Kind("launchers", "launcher", "launch", "--launch", "launchers", False, None, "zoo.Launcher"),
    # Inference backends serve exports (`zoo predict`, `zoo bench-infer`): never trained or swept.
    Kind("backends", "backend", "backend", None, None, False, None, "zoo.Backend"),
    # Where cells run is chosen per sweep (`--executor NAME`), never swept: it must not
    # change a result, so it is no axis and no part of a result's identity.
    Kind("executors", "executor", "executor", None, None, False, None, "zoo.Executor"),
    # Early stopping is chosen per sweep (`--prune NAME`), never swept and never part of a
    # result's identity: a pruned cell is a shorter run of the same cell, marked `pruned`.
    Kind("pruners", "pruner", "pruner", None, None, False, None, "zoo.Pruner"),
    # Which cells run is chosen per sweep (`--search NAME`), never swept and never part of a
    # result's identity: a searched cell is the grid's cell with the same settings.
    Kind("searchers", "searcher", "searcher", None, None, False, None, "zoo.Searcher"),
)


def kind_names() -> tuple[str, ...]:
    return tuple(kind.name for kind in KINDS)


def get(name: str) -> Kind:
    """The kind called ``name``, plural or singular (any case); KeyError if none."""
    key = name.strip().lower()
    for kind in KINDS:
        if key in (kind.name, kind.singular):
            return kind
    raise KeyError(name)


def swept() -> tuple[Kind, ...]:
    """Kinds that are axes of a sweep, in the order of the grid's product and columns."""
    return tuple(kind for kind in KINDS if kind.axis)


def trained() -> tuple[Kind, ...]:
    """Kinds a training run builds, in the order a Job lists them."""
    return tuple(kind for kind in KINDS if kind.trained)


def by_field(field: str) -> Kind:
    return next(kind for kind in KINDS if kind.field == field)
