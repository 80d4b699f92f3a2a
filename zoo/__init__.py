"""zoo: a plugin-based model zoo and benchmark runner on PaddlePaddle.

Importing zoo is cheap: it neither imports paddle nor loads plugins.  A plugin needs
only ``import zoo`` and ``@zoo.hookimpl``.
"""

from __future__ import annotations

from zoo.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
