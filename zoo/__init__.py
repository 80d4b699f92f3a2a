"""zoo: a plugin-based model zoo and benchmark runner on PaddlePaddle.

Importing zoo is cheap: it neither imports paddle nor loads plugins.  A plugin needs
only ``import zoo`` and ``@zoo.hookimpl``; ``zoo.Launcher`` and ``zoo.Backend`` are the
base classes of what launcher and backend factories return.
"""

from __future__ import annotations

from typing import Any

from zoo.backend import Backend
from zoo.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["Backend", "Launcher", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # zoo.launch pulls in the process machinery, which `zoo list` never needs.
    if name == "Launcher":
        from zoo.launch import Launcher

        return Launcher
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
