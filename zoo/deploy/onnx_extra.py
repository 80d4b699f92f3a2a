"""The ``onnx`` extra (paddle2onnx, onnxruntime): whether it is installed, and how to get it."""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "pip install 'zoo[onnx]' (in a checkout: python3 dev.py setup)"


def missing(*modules: str) -> str | None:
    """The first of ``modules`` that is not installed, or None."""
    return next((m for m in modules if importlib.util.find_spec(m) is None), None)
