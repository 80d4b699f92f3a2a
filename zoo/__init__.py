"""zoo: a plugin-based model zoo and benchmark runner on PaddlePaddle.

This package's namespace is zoo's public surface: the names in ``__all__`` are everything
a plugin (a dataset, model, launcher, executor, backend, pruner or searcher) may use, and
they are what the built-in plugins in ``zoo.plugins`` use too (a test holds both to it).
Every other module (``zoo.exec``, ``zoo.bench``, ``zoo.data``...) is internal and may
change without notice.  Plugins' tests have ``zoo.testing`` besides.

Importing zoo is cheap: it neither imports paddle nor loads plugins.  Everything but
``hookimpl`` is loaded on first use, so a plugin module whose first line is
``import zoo`` costs nothing until one of its factories runs; use the names inside
factories (``zoo.LocalExecutor(...)``), not at module level, when they pull in heavy code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo.hookspecs import hookimpl

__version__ = "0.2.0"

# name -> the internal module that defines it (or "module:attribute" where the public
# name differs).  One table: __all__, __getattr__ and the README's table come from it.
_SURFACE = {
    # errors: raise a ZooError subclass for any expected failure (one line for the user)
    "ZooError": "zoo.errors", "ConfigError": "zoo.errors", "RegistryError": "zoo.errors",
    "DataError": "zoo.errors", "DeviceError": "zoo.errors", "ExportError": "zoo.errors",
    "one_line": "zoo.errors",
    # devices
    "check_device": "zoo.device", "use_device": "zoo.device",
    # what launchers and executors are handed
    "Job": "zoo.job", "Cell": "zoo.bench.grid",
    # launchers
    "Launcher": "zoo.exec.launch", "worker_command": "zoo.exec.launch",
    "WORKER_SCRIPT": "zoo.exec.launch", "python_module": "zoo.exec.process",
    # executors
    "Executor": "zoo.exec.executor", "CellTask": "zoo.exec.executor",
    "CellEnd": "zoo.exec.executor", "Running": "zoo.exec.executor",
    "Outcome": "zoo.exec.process", "LocalExecutor": "zoo.exec.local",
    "RayExecutor": "zoo.exec.ray_executor",
    # backends
    "Backend": "zoo.backend", "INPUT_NAME": "zoo.deploy.manifest",
    "model_path": "zoo.deploy.manifest", "paddle_program": "zoo.deploy.manifest",
    # pruners
    "Pruner": "zoo.pruner", "OptunaPruner": "zoo.bench.optuna_pruner",
    "every_epoch": "zoo.bench.optuna_pruner", "rung_epochs": "zoo.bench.optuna_pruner",
    "SyncHalving": "zoo.bench.sha_pruner",
    # searchers
    "Searcher": "zoo.searcher", "Trial": "zoo.searcher", "Choice": "zoo.bench.space",
    "Range": "zoo.bench.space", "OptunaSearcher": "zoo.bench.optuna_searcher",
    # datasets: the contract, the readers and loaders a dataset plugin builds on
    "Dataset": "zoo.data.splits", "ImageDataset": "zoo.data.splits", "Split": "zoo.data.splits",
    "split_off": "zoo.data.splits", "fingerprint": "zoo.data.fingerprint",
    "read_idx_images": "zoo.data.idx", "read_idx_labels": "zoo.data.idx",
    "read_cifar_records": "zoo.data.cifar:read_records", "download_files": "zoo.data.download",
    "load_mnist": "zoo.data.splits", "MNIST_SAMPLE_DIR": "zoo.data.sample",
    "load_fashion_mnist": "zoo.data.fashion", "load_cifar10": "zoo.data.cifar",
    "load_imagefolder": "zoo.data.imagefolder",
}

__all__ = ["__version__", "hookimpl", *_SURFACE]


def __getattr__(name: str):
    where = _SURFACE.get(name)
    if where is None:
        raise AttributeError(f"module 'zoo' has no attribute '{name}'")
    import importlib

    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads them
    from zoo.backend import Backend
    from zoo.bench.grid import Cell
    from zoo.bench.optuna_pruner import OptunaPruner, every_epoch, rung_epochs
    from zoo.bench.sha_pruner import SyncHalving
    from zoo.bench.optuna_searcher import OptunaSearcher
    from zoo.bench.space import Choice, Range
    from zoo.data.cifar import load_cifar10
    from zoo.data.cifar import read_records as read_cifar_records
    from zoo.data.download import download_files
    from zoo.data.fashion import load_fashion_mnist
    from zoo.data.fingerprint import fingerprint
    from zoo.data.idx import read_idx_images, read_idx_labels
    from zoo.data.imagefolder import load_imagefolder
    from zoo.data.sample import MNIST_SAMPLE_DIR
    from zoo.data.splits import Dataset, ImageDataset, Split, load_mnist, split_off
    from zoo.deploy.manifest import INPUT_NAME, model_path, paddle_program
    from zoo.device import check_device, use_device
    from zoo.errors import (ConfigError, DataError, DeviceError, ExportError, RegistryError,
                            ZooError, one_line)
    from zoo.exec.executor import CellEnd, CellTask, Executor, Running
    from zoo.exec.launch import WORKER_SCRIPT, Launcher, worker_command
    from zoo.exec.local import LocalExecutor
    from zoo.exec.process import Outcome, python_module
    from zoo.exec.ray_executor import RayExecutor
    from zoo.job import Job
    from zoo.pruner import Pruner
    from zoo.searcher import Searcher, Trial
