"""The public plugin API of zoo: one hook per kind of entry (the kinds are ``zoo.kinds``).

A plugin is any module or object with functions marked ``@zoo.hookimpl`` whose names
are the hooks below.  Built-in plugins (listed in ``registry.toml``) and third-party
plugins (entry-point group ``zoo``) are loaded the same way and see the same API.
Besides these hooks a plugin uses only the ``zoo`` package's own names (``zoo.__all__``:
base classes, readers, loaders, errors; README's "The public surface"); every module
inside zoo is internal.

Every hook is register-callback style: it is called once per plugin, when a command
first needs the catalogue (never at import time), with a ``register`` callable bound to
that plugin and that kind.  A hook calls ``register(name, factory, description=...)``
once per entry and returns nothing.  If the hook raises, none of that plugin's
registrations are kept and the plugin is reported as broken; so is a plugin whose import
or hooks take longer than ``$ZOO_PLUGIN_TIMEOUT`` seconds.

Factories are called lazily (only when an entry is built), so a plugin module should
import heavy libraries such as paddle inside its factories, not at module level:
``zoo list`` must start without importing paddle.

Parameters: a factory's keyword-only parameters are the entry's tunable parameters, and
their defaults are its defaults.  ``register`` reads them from the signature; that is
the schema that registry.toml's ``[defaults]`` overrides and ``--set kind.param=value``
are checked against, and the resolved values are part of every result's identity.  A
factory that takes ``**params`` passes ``defaults={...}`` instead; defaults that disagree
with the signature are refused (``zoo.testing.check_entry_defaults`` checks the same).

Wrapping another entry: a factory that declares a parameter ``build_<singular>`` of a kind
(``build_schedule``, ``build_model``...) receives a builder ``build_<singular>(name,
*context)`` taking that kind's factory arguments (``zoo.kinds``' ``context``), by position
or by name, and returning the built entry with its parameters in force.
"""

from __future__ import annotations

import pluggy

from zoo.registry import DatasetRegister, Register

PROJECT_NAME = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def zoo_register_datasets(register: DatasetRegister) -> None:
    """Register datasets.

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``, and for a dataset
        whose shape never depends on its files or parameters also ``input_shape=(C, H, W)``
        and ``num_classes=N`` (optional, both or neither): then ``zoo inspect`` needs no
        data files for it, and every load is checked against the declaration (a dataset
        that loads another shape is an error).  ``imagefolder`` declares none: its shape
        is the user's images.
        ``factory(data_dir: str | None, **params)`` must return a ``zoo.Dataset``
        (train / validation / test splits of uint8 images, ``[N, H, W]`` grey or
        ``[N, H, W, C]`` colour, and integer labels, plus ``input_shape`` ``(C, H, W)`` and
        ``num_classes``; ``zoo.ImageDataset`` is a ready-made one).  ``data_dir`` is
        ``--data-dir`` or ``None``.  An empty validation split means "no validation":
        training skips it.
        Required attributes too: ``mean`` and ``std`` in pixel units (one value or one per
        channel; batches are ``(x - mean) / std``; there is no default, so MNIST's
        127.5/127.5 is never applied to another dataset's pixels).
        Optional attributes: ``class_names``; ``augment`` (``"none"`` or ``"flip_crop"``,
        training batches only, a pure function of seed, epoch and sample index).
        The dataset may also have a ``data_dir`` attribute: the absolute folder (a str)
        whose files it actually loaded, which can differ from the folder asked for
        (``mnist`` falls back to the sample shipped with zoo when offline), or ``None``
        for a dataset with no folder.  A sweep builds the dataset once and passes that
        folder as ``data_dir`` to all of its workers, so they load the same files and never
        download or fall back on their own: given its own ``data_dir`` back, a factory
        must load the same files.
        ``zoo.fingerprint(dataset)`` identifies the loaded content.
    :returns: nothing.
    """


@hookspec
def zoo_register_models(register: Register) -> None:
    """Register model architectures.

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(input_shape: tuple[int, ...], num_classes: int, **params)`` must
        return a ``paddle.nn.Layer`` mapping a float32 batch ``[N, *input_shape]`` to
        logits ``[N, num_classes]``.
    :returns: nothing.
    """


@hookspec
def zoo_register_optimizers(register: Register) -> None:
    """Register optimizers.

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(parameters, learning_rate, weight_decay, **params)`` must return a
        ``paddle.optimizer.Optimizer``.  ``learning_rate`` is a float or a
        ``paddle.optimizer.lr.LRScheduler``; ``weight_decay`` is the regularizer built
        from the regularizer entry (``None`` for no regularization).  Declare the base
        learning rate as the ``learning_rate`` default: schedules start from it.
    :returns: nothing.
    """


@hookspec
def zoo_register_schedules(register: Register) -> None:
    """Register learning-rate schedules.

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(learning_rate: float, total_steps: int, **params)`` must return a
        ``paddle.optimizer.lr.LRScheduler`` stepped once per optimizer step.
        ``learning_rate`` is the optimizer's base rate and ``total_steps`` the number
        of optimizer steps in the whole run.  A factory that also declares a
        ``build_schedule`` parameter receives ``build_schedule(name, learning_rate,
        total_steps)`` to wrap another registered schedule (as ``warmup`` does).
    :returns: nothing.
    """


@hookspec
def zoo_register_regularizers(register: Register) -> None:
    """Register weight regularizers.

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(**params)`` must return a ``paddle.regularizer.WeightDecayRegularizer``
        or ``None`` (no regularization); it is passed to the optimizer as
        ``weight_decay``.
    :returns: nothing.
    """


@hookspec
def zoo_register_launchers(register: Register) -> None:
    """Register launch strategies: how the processes of one training job start.

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(**params)`` must return a ``zoo.Launcher`` (subclass it).  Its
        ``command(job_file, nprocs, device, log_dir) -> list[str]`` is the command line
        that trains the job in ``job_file`` with ``nprocs`` processes; build it around
        ``zoo.worker_command(job_file)`` (one process) or ``zoo.worker_command(job_file,
        nprocs=N)`` (N spawned ranks), with any prefix or environment a tool needs.  A
        command equal to ``zoo.worker_command(job_file)`` may be forked from zoo's warm
        process instead (no second paddle import); any other runs as given.  Set
        ``max_nprocs`` (1: a one-process launcher, every grid's baseline) and, if it
        needs more checks, override ``problem(nprocs, device) -> str | None``.  zoo runs
        the command in the cell's folder in a process group of its own, stops the group
        on a timeout or Ctrl-C, and kills it if zoo dies; ``zoo.exec.launch`` documents
        what the worker gets (absolute paths, environment, exit codes).
    :returns: nothing.
    """


@hookspec
def zoo_register_backends(register: Register) -> None:
    """Register inference backends (what serves an export: ``zoo predict``, the agreement
    check of ``zoo export`` and ``zoo bench-infer``).

    Called once per plugin when the catalogue is first built.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(**params)`` must return a ``zoo.Backend`` (subclass it), one per loaded
        export:

        * ``format`` (``"paddle"`` or ``"onnx"``): the export format it loads, i.e. what
          ``zoo export --format`` wrote into the export folder;
        * ``devices``: the device kinds it supports, e.g. ``("cpu", "gpu")``;
        * ``problem(device) -> str | None``: why it cannot run on ``device`` (``cpu``,
          ``gpu``, ``gpu:N``) here, e.g. a package that is not installed, else ``None``;
          asked before loading, and shown to the user as the reason;
        * ``load(export_dir, manifest, device)``: load the export folder ``export_dir``
          (already verified against its ``zoo-export.json``, passed as the dict
          ``manifest``: input shape, class names, normalization, files);
        * ``predict(batch: np.ndarray) -> np.ndarray``: logits ``[N, num_classes]`` of a
          float32 batch ``[N, C, H, W]`` already normalized as the manifest says;
        * ``close()``: release the loaded model (optional).

        Import the runtime (paddle, onnxruntime, ...) inside ``problem`` and ``load``,
        never at module level.
    :returns: nothing.
    """


@hookspec
def zoo_register_executors(register: Register) -> None:
    """Register executors: where the cells of a sweep run, and how many at once.

    Called once per plugin when the catalogue is first built.  A sweep uses one executor,
    chosen with ``zoo bench --executor NAME`` (default ``local``); it is never an axis
    of the grid and never part of a result's identity, because where a cell runs must not
    change its numbers.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(**params)`` must return a ``zoo.Executor`` (subclass it); ``--jobs``,
        ``--threads`` and ``--ray-address`` set the parameters ``jobs``, ``threads`` and
        ``address`` of an executor that declares them, ``--set executor.P=V`` any other.
        The runner calls ``check()``, then ``open(out, planned, warm)`` once; for each
        cell ``problem(cell)`` (a reason makes it ``skipped``), ``room_for(cell)`` and
        ``start(task)``, which returns a handle with ``where``, ``poll(wait)``,
        ``stop()`` and ``progress()``; and ``close()`` at the end, always.  The runner
        alone writes the results store and decides statuses; an executor that runs a
        cell elsewhere must bring its metrics.json, checkpoints and logs back to the
        cell's folder before ``poll`` reports the end.  Its ``threads`` (per training
        process) is part of every cell's identity: Paddle's CPU kernels give other bits
        with other thread counts.  ``zoo.exec.executor`` documents the whole contract.
    :returns: nothing.
    """


@hookspec
def zoo_register_pruners(register: Register) -> None:
    """Register pruners: early stopping for the cells of a sweep.

    Called once per plugin when the catalogue is first built.  A sweep uses one pruner,
    chosen with ``zoo bench --prune NAME`` (default ``none``) and parameterised with
    ``--set pruner.P=V``; like an executor it is never an axis of the grid and never part
    of a result's identity: a pruned cell is the same cell, stopped early, with status
    ``pruned``.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(**params)`` must return a ``zoo.Pruner`` (subclass it); a factory that
        needs an optional library raises a ``zoo.ConfigError`` saying how to
        install it.  The runner calls ``open(folder)`` once (the pruner keeps its own
        state there, never in results.db); per cell ``decision_epochs(epochs)``, the
        epochs after whose validation it wants to decide (the cell checkpoints and pauses
        there, then resumes bit for bit); ``should_prune(trial, values)`` with the
        validation accuracies so far, one per epoch (True stops the cell, False lets it go
        on, None holds it until ``settle(held)``, called once nothing else can run, and
        ``held(trial)`` tells a rerun which cells still wait); ``decided(trial)`` (a trial
        already pruned or complete is never asked again); ``tell(trial, status, values)``
        when a cell ends; and ``close()``, always.  ``trial`` is a stable name of the
        cell and seed.  ``zoo.pruner`` documents the whole contract.
    :returns: nothing.
    """


@hookspec
def zoo_register_searchers(register: Register) -> None:
    """Register searchers: which cells of a sweep's space run.

    Called once per plugin when the catalogue is first built.  A sweep uses one searcher,
    chosen with ``zoo bench --search NAME`` (default ``grid``: zoo's own enumeration of
    every cell) and parameterised with ``--set searcher.P=V``; like a pruner it is never an
    axis of the grid and never part of a result's identity: a searched cell is the grid's
    cell with the same settings, stored and shown the same way.

    :param register: call ``register(name, factory, description=...)``.
        ``factory(**params)`` must return a ``zoo.Searcher`` (subclass it); a factory that
        needs an optional library raises a ``zoo.ConfigError`` saying how to
        install it.  A searcher whose ``samples`` is true runs ``--trials N`` points:
        the runner calls ``open(folder, space, seed)`` once (the searcher keeps its own
        state in the sweep folder, never in results.db; it returns the ``zoo.Trial``
        of earlier sessions), ``ask()`` for each new point, ``started(trial, name)`` before
        the point's cell starts, ``tell(trial, status, value)`` when it ended for good, and
        ``close()``, always.  One that is not ``adaptive`` is asked for every point before
        anything runs and must give the same points again on a rerun (seed it).
        ``zoo.searcher`` documents the whole contract.
    :returns: nothing.
    """
