"""zoo: a plugin-based model zoo and benchmark runner on PaddlePaddle.

Importing zoo is cheap: it neither imports paddle nor loads plugins.  A plugin needs
only ``import zoo`` and ``@zoo.hookimpl``; a launcher plugin subclasses ``zoo.Launcher``
and builds its commands around ``zoo.worker_command``; a backend plugin subclasses
``zoo.Backend``, an executor plugin ``zoo.Executor``, a pruner plugin ``zoo.Pruner``, a
searcher plugin ``zoo.Searcher`` (see ``zoo.hookspecs``).
"""

from __future__ import annotations

from zoo.hookspecs import hookimpl

__version__ = "0.2.0"

__all__ = ["Backend", "Executor", "Launcher", "Pruner", "Searcher", "__version__", "hookimpl",
           "worker_command"]

# The public base types of the kinds with behaviour, loaded on first use so that
# `import zoo` (every plugin's first line) stays cheap.
_LAZY = {"Backend": "zoo.backend", "Executor": "zoo.exec.executor", "Launcher": "zoo.exec.launch",
         "Pruner": "zoo.pruner", "Searcher": "zoo.searcher",
         "worker_command": "zoo.exec.launch"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute '{name}'")
